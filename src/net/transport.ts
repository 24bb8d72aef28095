// The datagram seam: everything above it (rolodex, member, DTLS sessions) sends and receives
// through this interface, so tests can swap the UDP socket for an in-memory network.
import type { ReadHandover } from '../dtls/index';

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

/**
 * The native receive path (native/fast-receive.h): records of an armed source are opened and, when
 * they carry an IP packet from `vpn`, written to the device without JavaScript; anything else they
 * carry arrives through onOpened, already opened. Only a real UDP socket with a TUN device has one.
 */
export interface NativeReceive {
  /** The socket's descriptor, for the native send path (NativeSend in tun/device.ts) to send through. */
  readonly socketFd: number;
  /** The sockaddr the addons key `remote` by, as the kernel reports it; null for a name or a bad port. */
  sockaddr(remote: Endpoint): Buffer | null;
  /** Where armed sessions' packets go: the device's descriptor, or null to stop (disarm everything first). */
  attachDevice(descriptor: { fd: number; vnet: boolean } | null): void;
  /** False when native code cannot take this session (suite, no device): it stays JavaScript's. */
  arm(remote: Endpoint, read: ReadHandover, vpn: Uint8Array): boolean;
  /** Stops opening `remote`'s records natively; fills `bits` and returns the window's highest number, or null when not armed. */
  disarm(remote: Endpoint, bits: Uint32Array): number | null;
  /** IP packets and their bytes written to the device for one armed source so far. */
  sessionCounters(remote: Endpoint): { packets: number; bytes: number };
  /** Member-wide counters and the number of armed sources. */
  counters(): NativeReceiveCounters;
  /** Records of armed sessions that opened but are not IP packets from the peer's VPN address. */
  onOpened(handler: MessageHandler): void;
}

export interface NativeReceiveCounters {
  packets: number;
  bytes: number;
  openedUp: number;
  droppedReplay: number;
  droppedAuth: number;
  malformed: number;
  deviceDrops: number;
  armed: number;
}

export interface DatagramTransport {
  /** For status; absent on transports with no kernel offloads to offer (in-memory networks). */
  readonly offloads?: Offloads;
  /** Absent or null where the native receive path is not available (in-memory networks, no addon). */
  readonly nativeReceive?: NativeReceive | null;
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
