// The real DatagramTransport: one node:dgram socket. Only composition roots create it. On Linux,
// datagrams sent in one turn of the event loop leave together through sendmmsg(2) (native/udp.cc).
import dgram from 'node:dgram';
import path from 'node:path';
import type { DatagramTransport, Endpoint, MessageHandler } from './transport';

export interface UdpOptions {
  /** Bind address; '::' listens on IPv6 and, unless ipv6Only, IPv4-mapped addresses too. */
  address: string;
  port: number;
  ipv6Only?: boolean;
  /** Kernel socket buffer sizes in bytes; larger buffers absorb bursts on the packet path. */
  bufferBytes?: number;
  /** Whether to batch sends through sendmmsg(2) when the addon loads; default true. */
  batchSends?: boolean;
}

interface BatchAddon {
  sockaddr(address: string, port: number, mapIPv4: boolean): Buffer | null;
  sendBatch(fd: number, datagrams: Uint8Array[], sockaddrs: Buffer[], count: number): number;
  sendWithTtl(fd: number, datagram: Uint8Array, sockaddr: Buffer, ttl: number): boolean;
}

const ADDON_PATH = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'meshboi_udp.node');
/** undefined: not tried yet; null: not built or not loadable, so sends go through dgram. */
let batchAddon: BatchAddon | null | undefined;

function loadBatchAddon(): BatchAddon | null {
  if (batchAddon === undefined) {
    try {
      batchAddon = require(ADDON_PATH) as BatchAddon;
    } catch {
      batchAddon = null;
    }
  }
  return batchAddon;
}

/** The socket's file descriptor, or -1; read through dgram's state symbol, as `_handle` is deprecated. */
function socketFd(socket: dgram.Socket): number {
  const symbol = Object.getOwnPropertySymbols(socket).find((candidate) => candidate.description === 'state symbol');
  const state = symbol === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[symbol];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** Destinations whose parsed sockaddr is kept; a mesh has far fewer. */
const SOCKADDR_CACHE_LIMIT = 4096;

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
  /** Datagrams sent this turn of the event loop, waiting for one sendmmsg; slots are reused. */
  private readonly queued: Uint8Array[] = [];
  private readonly queuedSockaddrs: Buffer[] = [];
  private queuedCount = 0;
  /** Parsed destinations by port, then address, so a send allocates nothing to find its sockaddr. */
  private readonly sockaddrs = new Map<number, Map<string, Buffer | null>>();
  private sockaddrCount = 0;
  /** Set by close(): the fd is about to go, so later sends take dgram's path (and its errors). */
  private closing = false;
  /** Datagrams sent through sendmmsg, and those the kernel refused there (a full buffer, say). */
  readonly batchCounters = { sent: 0, batches: 0, dropped: 0 };
  private readonly flushQueued = (): void => this.flush();

  /**
   * A dual-stack IPv6 socket reports IPv4 senders in plain form but can only send to them in
   * IPv4-mapped form, so callers can use plain IPv4 addresses whichever socket they hold.
   */
  private constructor(
    private readonly socket: dgram.Socket,
    private readonly mapsIPv4: boolean,
    private readonly addon: BatchAddon | null,
    private readonly fd: number,
  ) {
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
        const addon = options.batchSends === false ? null : loadBatchAddon();
        const fd = addon === null ? -1 : socketFd(socket);
        resolve(new UdpTransport(socket, type === 'udp6' && !options.ipv6Only, fd < 0 ? null : addon, fd));
      });
    });
  }

  /** Whether sends go out through sendmmsg (false: one dgram send each). */
  get batched(): boolean {
    return this.addon !== null;
  }

  send(data: Uint8Array, port: number, address: string, ttl?: number): void {
    if (ttl !== undefined) return this.sendWithTtl(data, port, address, ttl);
    const sockaddr = this.addon === null || this.closing ? null : this.sockaddrFor(port, address);
    if (sockaddr === null) {
      // A host name or a bad port: dgram resolves the one and reports the other.
      this.sendOne(data, port, address);
      return;
    }
    if (this.queuedCount === 0) queueMicrotask(this.flushQueued);
    this.queued[this.queuedCount] = data;
    this.queuedSockaddrs[this.queuedCount] = sockaddr;
    this.queuedCount++;
  }

  /** Sends what is queued now, with one sendmmsg per 64 datagrams; runs by itself after each turn. */
  flush(): void {
    const count = this.queuedCount;
    if (count === 0 || this.addon === null || this.closing) return;
    this.queuedCount = 0;
    const sent = this.addon.sendBatch(this.fd, this.queued, this.queuedSockaddrs, count);
    this.batchCounters.batches++;
    this.batchCounters.sent += sent;
    this.batchCounters.dropped += count - sent;
    // Drops the references so sent buffers can be collected; the arrays keep their slots.
    this.queued.fill(EMPTY, 0, count);
  }

  /**
   * One datagram with its own TTL, after what is queued (so the order holds). dgram can only set
   * a TTL for the whole socket, and its sends leave later, so without the addon it is dropped.
   */
  private sendWithTtl(data: Uint8Array, port: number, address: string, ttl: number): void {
    const sockaddr = this.addon === null || this.closing ? null : this.sockaddrFor(port, address);
    if (sockaddr === null) return;
    this.flush();
    if ((this.addon as BatchAddon).sendWithTtl(this.fd, data, sockaddr, ttl)) this.batchCounters.sent++;
    else this.batchCounters.dropped++;
  }

  private sockaddrFor(port: number, address: string): Buffer | null {
    // Any sender can make us answer (a cookie reply, say), so the cache starts over when it grows.
    if (this.sockaddrCount >= SOCKADDR_CACHE_LIMIT) {
      this.sockaddrs.clear();
      this.sockaddrCount = 0;
    }
    let byAddress = this.sockaddrs.get(port);
    if (byAddress === undefined) {
      byAddress = new Map();
      this.sockaddrs.set(port, byAddress);
    }
    let sockaddr = byAddress.get(address);
    if (sockaddr === undefined) {
      sockaddr = (this.addon as BatchAddon).sockaddr(address, port, this.mapsIPv4);
      byAddress.set(address, sockaddr);
      this.sockaddrCount++;
    }
    return sockaddr;
  }

  private sendOne(data: Uint8Array, port: number, address: string): void {
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
    this.flush();
    this.closing = true;
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

const EMPTY = new Uint8Array(0);

/** A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d; peers and maps use the plain form. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
