// An in-memory datagram network for tests: transports attached to it exchange datagrams without
// sockets, with a hook to drop, delay or rewrite each one so loss and races are deterministic.
import type { DatagramTransport, Endpoint, MessageHandler } from './transport';
import { formatEndpoint } from './transport';

export interface InFlight {
  from: Endpoint;
  to: Endpoint;
  data: Buffer;
}

/** Returns the datagram to deliver (possibly rewritten), or null to drop it. */
export type Interceptor = (datagram: InFlight) => InFlight | null;

export class MemoryNetwork {
  private readonly bound = new Map<string, MemoryTransport>();
  private nextPort = 40000;
  interceptor: Interceptor = (d) => d;
  delivered = 0;
  dropped = 0;

  attach(address: string, port = 0): MemoryTransport {
    const endpoint = { address, port: port || this.nextPort++ };
    const key = formatEndpoint(endpoint);
    if (this.bound.has(key)) throw new Error(`address in use: ${key}`);
    const transport = new MemoryTransport(this, endpoint);
    this.bound.set(key, transport);
    return transport;
  }

  /** Called by a transport; delivery happens on a later turn, as with a real socket. */
  route(datagram: InFlight): void {
    const result = this.interceptor({ ...datagram, data: Buffer.from(datagram.data) });
    if (!result) {
      this.dropped++;
      return;
    }
    setImmediate(() => {
      const target = this.bound.get(formatEndpoint(result.to));
      if (!target) {
        this.dropped++;
        return;
      }
      this.delivered++;
      target.deliver(result.data, result.from);
    });
  }

  detach(endpoint: Endpoint): void {
    this.bound.delete(formatEndpoint(endpoint));
  }
}

export class MemoryTransport implements DatagramTransport {
  private handler: MessageHandler = () => {};
  private closed = false;

  constructor(private readonly network: MemoryNetwork, private readonly endpoint: Endpoint) {}

  send(data: Uint8Array, port: number, address: string): void {
    if (this.closed) return;
    this.network.route({ from: this.endpoint, to: { address, port }, data: Buffer.from(data) });
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  deliver(data: Buffer, from: Endpoint): void {
    if (!this.closed) this.handler(data, from);
  }

  localEndpoint(): Endpoint {
    return { ...this.endpoint };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.detach(this.endpoint);
  }
}
