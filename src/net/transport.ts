// The datagram seam: everything above it (rolodex, member, DTLS sessions) sends and receives
// through this interface, so tests can swap the UDP socket for an in-memory network.

export interface Endpoint {
  address: string;
  port: number;
}

export type MessageHandler = (data: Buffer, from: Endpoint) => void;

/** Kernel offloads a transport uses ("gso", "gro", ...), and why any it would use is missing ('' when none is). */
export interface Offloads {
  readonly enabled: readonly string[];
  readonly problem: string;
}

export interface DatagramTransport {
  /** For status; absent on transports with no kernel offloads to offer (in-memory networks). */
  readonly offloads?: Offloads;
  /**
   * Queues one datagram; never throws for an unreachable destination (UDP has no such thing).
   * The transport may read `data` after returning (a real socket sends later when busy), so the
   * caller must not reuse that buffer. `ttl`, when given, is this datagram's IP TTL (hop limit):
   * punching sends one that opens our NAT and dies before the peer's. A transport that cannot
   * set it drops the datagram rather than send it further than asked.
   */
  send(data: Uint8Array, port: number, address: string, ttl?: number): void;
  /** One handler at a time; `data` may be reused by the transport after the handler returns. */
  onMessage(handler: MessageHandler): void;
  /** The bound local endpoint (address may be the wildcard). */
  localEndpoint(): Endpoint;
  close(): Promise<void>;
}

/** "1.2.3.4:5" or "[2001:db8::1]:5", the form the rolodex uses on the wire. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}
