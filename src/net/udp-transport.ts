// The real DatagramTransport: one node:dgram socket. Only composition roots create it.
import dgram from 'node:dgram';
import type { DatagramTransport, Endpoint, MessageHandler } from './transport';

export interface UdpOptions {
  /** Bind address; '::' listens on IPv6 and, unless ipv6Only, IPv4-mapped addresses too. */
  address: string;
  port: number;
  ipv6Only?: boolean;
  /** Kernel socket buffer sizes in bytes; larger buffers absorb bursts on the packet path. */
  bufferBytes?: number;
}

/** How long close() waits for queued datagrams (a close_notify, say) to leave before giving up. */
const CLOSE_DRAIN_MS = 500;

export class UdpTransport implements DatagramTransport {
  private handler: MessageHandler = () => {};
  /** Datagrams handed to the socket whose send has not completed; close() lets them leave first. */
  private sending = 0;
  private drained: (() => void) | null = null;
  private readonly sent = (): void => {
    if (--this.sending === 0 && this.drained) this.drained();
  };

  /**
   * A dual-stack IPv6 socket reports IPv4 senders in plain form but can only send to them in
   * IPv4-mapped form, so callers can use plain IPv4 addresses whichever socket they hold.
   */
  private constructor(private readonly socket: dgram.Socket, private readonly mapsIPv4: boolean) {
    socket.on('message', (data, rinfo) => {
      this.handler(data, { address: unmapIPv4(rinfo.address), port: rinfo.port });
    });
    // A send to an unreachable host surfaces as an async error; UDP callers treat it as loss.
    socket.on('error', () => {});
  }

  static open(options: UdpOptions): Promise<UdpTransport> {
    const type = options.address.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, ipv6Only: options.ipv6Only ?? false });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.address, () => {
        socket.off('error', reject);
        if (options.bufferBytes) {
          socket.setRecvBufferSize(options.bufferBytes);
          socket.setSendBufferSize(options.bufferBytes);
        }
        resolve(new UdpTransport(socket, type === 'udp6' && !options.ipv6Only));
      });
    });
  }

  send(data: Uint8Array, port: number, address: string): void {
    this.sending++;
    this.socket.send(data, port, this.mapsIPv4 && !address.includes(':') ? `::ffff:${address}` : address, this.sent);
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  localEndpoint(): Endpoint {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  /** Closes the socket once what was sent before has left (dgram resolves addresses asynchronously). */
  async close(): Promise<void> {
    if (this.sending > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_DRAIN_MS);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

/** A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d; peers and maps use the plain form. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
