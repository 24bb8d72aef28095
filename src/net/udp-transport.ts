// The real DatagramTransport: one node:dgram socket. Only composition roots create it. On Linux,
// datagrams sent in one turn of the event loop leave together through sendmmsg(2), equal-sized runs
// to one destination as UDP GSO messages, and datagrams arrive in batches through recvmmsg(2) with
// UDP GRO (native/udp.cc), one call into JavaScript per batch; records of sessions armed for the
// native receive path are opened and written to the TUN device there (NativeReceive).
import dgram from 'node:dgram';
import path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { logger } from '../log';
import type { ReadHandover } from '../dtls/index';
import type { DatagramTransport, Endpoint, MessageHandler, NativeReceive, NativeReceiveCounters, Offloads } from './transport';

export interface UdpOptions {
  /** Bind address; '::' listens on IPv6 and, unless ipv6Only, IPv4-mapped addresses too. */
  address: string;
  port: number;
  ipv6Only?: boolean;
  /** Kernel socket buffer sizes in bytes; larger buffers absorb bursts on the packet path. */
  bufferBytes?: number;
  /** Whether to batch sends through sendmmsg(2) when the addon loads; default true. */
  batchSends?: boolean;
  /** Whether to receive in batches through recvmmsg(2) when the addon loads; default true. */
  batchReceives?: boolean;
  /** Whether batched sends may send equal-sized runs to one destination as UDP GSO messages; default true. */
  segmentSends?: boolean;
}

interface NativeReceiver {
  /** Whether the kernel took UDP_GRO, so super-datagrams arrive and are split natively. */
  readonly gro: boolean;
  start(onBatch: (count: number) => void): void;
  /** A source number's address and port, or null once the numbering started over. */
  source(number: number): [string, number] | null;
  readCounters(out: Float64Array): void;
  arm(sockaddr: Buffer, aead: string, key: Uint8Array, iv: Uint8Array, epoch: number, highest: number, bits: Uint32Array, vpn: Uint8Array): boolean;
  disarm(sockaddr: Buffer, bits: Uint32Array): number | null;
  sessionCounters(sockaddr: Buffer, out: Float64Array): void;
  attachTun(fd: number, vnet: boolean): void;
  close(): void;
}

/** native/udp.cc's receive counters, then fast::Counter in native/fast-receive.h, then the armed sources. */
const RECEIVE_COUNTERS = 4;
const FAST_COUNTER_NAMES = ['packets', 'bytes', 'openedUp', 'droppedReplay', 'droppedAuth', 'malformed', 'deviceDrops', 'armed'] as const satisfies ReadonlyArray<keyof NativeReceiveCounters>;
/** Set on a source number by the addon: the entry is a plaintext the native receive path opened. */
const OPENED_FLAG = 0x80000000;

interface BatchAddon {
  sockaddr(address: string, port: number, mapIPv4: boolean): Buffer | null;
  /** `gsoState[0]` gets the errno that stopped GSO for the process; it stays 0 while GSO works. */
  sendBatch(fd: number, datagrams: Uint8Array[], sockaddrs: Buffer[], count: number, segment: boolean, gsoState: Int32Array): number;
  sendWithTtl(fd: number, datagram: Uint8Array, sockaddr: Buffer, ttl: number): boolean;
  UdpReceiver: new (options: {
    fd: number;
    slab: Uint8Array;
    messageSize: number;
    offsets: Uint32Array;
    lengths: Uint32Array;
    sources: Uint32Array;
    state: Uint32Array;
  }) => NativeReceiver;
}

const ADDON_PATH = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'meshboi_udp.node');
const log = logger('udp');
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

interface DgramHandle {
  fd?: unknown;
  recvStart?: unknown;
  recvStop?: unknown;
}

/** dgram's libuv handle, read through its state symbol, as `_handle` is deprecated. */
function socketHandle(socket: dgram.Socket): DgramHandle | undefined {
  const symbol = Object.getOwnPropertySymbols(socket).find((candidate) => candidate.description === 'state symbol');
  return symbol === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: DgramHandle }>)[symbol]?.handle;
}

/** The socket's file descriptor, or -1. */
function socketFd(socket: dgram.Socket): number {
  const fd = socketHandle(socket)?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** Datagrams one recvmmsg(2) call takes; each has room for the largest UDP datagram (or GRO batch). */
const RECEIVE_MESSAGES = 16;
const RECEIVE_MESSAGE_BYTES = 65536;
/** Datagrams handed to JavaScript per call at most, once GRO batches are split. */
const RECEIVE_ENTRIES = 1024;
/** DTLS application_data: the packet path, whose handlers are done with the bytes when they return. */
const APPLICATION_DATA = 23;

/** Datagrams received in batches: the slab they sit in and where each one is, reused per batch. */
class BatchReceiver {
  readonly slab = Buffer.allocUnsafeSlow(RECEIVE_MESSAGES * RECEIVE_MESSAGE_BYTES);
  readonly offsets = new Uint32Array(RECEIVE_ENTRIES);
  readonly lengths = new Uint32Array(RECEIVE_ENTRIES);
  readonly sources = new Uint32Array(RECEIVE_ENTRIES);
  /** [generation of the source numbering] */
  readonly state = new Uint32Array(1);
  /** One endpoint object per source number of the current generation. */
  readonly endpoints: Endpoint[] = [];
  generation = 0;
  readonly native: NativeReceiver;

  constructor(addon: BatchAddon, fd: number) {
    this.native = new addon.UdpReceiver({
      fd,
      slab: this.slab,
      messageSize: RECEIVE_MESSAGE_BYTES,
      offsets: this.offsets,
      lengths: this.lengths,
      sources: this.sources,
      state: this.state,
    });
  }

  endpoint(number: number): Endpoint {
    if (this.state[0] !== this.generation) {
      this.generation = this.state[0];
      this.endpoints.length = 0;
    }
    let endpoint = this.endpoints[number];
    if (endpoint === undefined) {
      const [address, port] = this.native.source(number) ?? ['', 0];
      endpoint = this.endpoints[number] = { address: unmapIPv4(address), port };
    }
    return endpoint;
  }
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
  private receiver: BatchReceiver | null = null;
  private readonly receiveCounterValues = new Float64Array(RECEIVE_COUNTERS + FAST_COUNTER_NAMES.length);
  private openedHandler: MessageHandler = () => {};
  private readonly sessionCounterValues = new Float64Array(2);
  /** [errno that stopped UDP GSO], set by the addon; logged once. */
  private readonly gsoState = new Int32Array(1);
  private gsoRefusalLogged = false;

  /**
   * A dual-stack IPv6 socket reports IPv4 senders in plain form but can only send to them in
   * IPv4-mapped form, so callers can use plain IPv4 addresses whichever socket they hold.
   */
  private constructor(
    private readonly socket: dgram.Socket,
    private readonly mapsIPv4: boolean,
    private readonly addon: BatchAddon | null,
    private readonly fd: number,
    private readonly segmentSends: boolean,
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
        const addon = loadBatchAddon();
        const fd = addon === null ? -1 : socketFd(socket);
        const sendAddon = fd < 0 || options.batchSends === false ? null : addon;
        const transport = new UdpTransport(socket, type === 'udp6' && !options.ipv6Only, sendAddon, fd, options.segmentSends ?? true);
        if (addon !== null && fd >= 0 && options.batchReceives !== false) transport.receiveInBatches(addon, fd);
        const { enabled, problem } = transport.offloads;
        if (problem !== '') log.warn('UDP offloads are partly or wholly unavailable; datagrams still flow without them', { enabled: enabled.join(' ') || 'none', reason: problem });
        resolve(transport);
      });
    });
  }

  /** Takes reading over from dgram; where its handle cannot stop reading, dgram keeps it. */
  private receiveInBatches(addon: BatchAddon, fd: number): void {
    const handle = socketHandle(this.socket);
    if (typeof handle?.recvStop !== 'function' || typeof handle.recvStart !== 'function') return;
    (handle.recvStop as () => number).call(handle);
    try {
      const receiver = new BatchReceiver(addon, fd);
      receiver.native.start(this.onBatch);
      this.receiver = receiver;
    } catch {
      (handle.recvStart as () => number).call(handle);
    }
  }

  /** Whether datagrams arrive through recvmmsg (false: one dgram message event each). */
  get batchedReceives(): boolean {
    return this.receiver !== null;
  }

  /** Whether the kernel merges equal datagrams of one sender for us (UDP GRO). */
  get receiveOffload(): boolean {
    return this.receiver?.native.gro ?? false;
  }

  /** Datagrams received in batches, recvmmsg calls that brought some, GRO batches split, receive errors. */
  get receiveCounters(): { datagrams: number; batches: number; groSplits: number; errors: number } {
    const values = this.receiveCounterValues;
    this.receiver?.native.readCounters(values);
    return { datagrams: values[0], batches: values[1], groSplits: values[2], errors: values[3] };
  }

  /**
   * Each datagram of a batch is a view into the reused slab, which its handler must be done with
   * when it returns; microtasks queued by the handlers run before the next batch. Anything but
   * application data goes to slower code (handshakes, rolodex messages) that may keep it, so it
   * gets a copy.
   */
  private readonly onBatch = (count: number): void => {
    const receiver = this.receiver;
    if (receiver === null) return;
    const { slab, offsets, lengths, sources } = receiver;
    for (let i = 0; i < count; i++) {
      const offset = offsets[i];
      const view = slab.subarray(offset, offset + lengths[i]);
      const source = sources[i];
      if (source >= OPENED_FLAG) this.openedHandler(view, receiver.endpoint(source - OPENED_FLAG));
      else this.handler(view[0] === APPLICATION_DATA ? view : Buffer.from(view), receiver.endpoint(source));
    }
  };

  /** The native receive path, where the addon reads this socket; null where dgram does. */
  get nativeReceive(): NativeReceive | null {
    if (this.receiver === null) return null;
    this.nativeReceivePath ??= this.makeNativeReceive();
    return this.nativeReceivePath;
  }

  private nativeReceivePath: NativeReceive | null = null;

  private makeNativeReceive(): NativeReceive {
    return {
      socketFd: this.fd,
      sockaddr: (remote) => this.sockaddrOf(remote),
      attachDevice: (descriptor) => this.receiver?.native.attachTun(descriptor?.fd ?? -1, descriptor?.vnet ?? false),
      arm: (remote: Endpoint, read: ReadHandover, vpn: Uint8Array): boolean => {
        const sockaddr = this.sockaddrOf(remote);
        if (sockaddr === null || this.receiver === null) return false;
        return this.receiver.native.arm(sockaddr, read.aead, read.key, read.iv, read.epoch, read.highest, read.bits, vpn);
      },
      disarm: (remote, bits) => {
        const sockaddr = this.sockaddrOf(remote);
        return sockaddr === null || this.receiver === null ? null : this.receiver.native.disarm(sockaddr, bits);
      },
      sessionCounters: (remote) => {
        const values = this.sessionCounterValues;
        values.fill(0);
        const sockaddr = this.sockaddrOf(remote);
        if (sockaddr !== null) this.receiver?.native.sessionCounters(sockaddr, values);
        return { packets: values[0], bytes: values[1] };
      },
      counters: () => this.fastCounters(),
      onOpened: (handler) => {
        this.openedHandler = handler;
      },
    };
  }

  private fastCounters(): NativeReceiveCounters {
    const values = this.receiveCounterValues;
    this.receiver?.native.readCounters(values);
    const counters = {} as NativeReceiveCounters;
    FAST_COUNTER_NAMES.forEach((name, index) => (counters[name] = values[RECEIVE_COUNTERS + index]));
    return counters;
  }

  /** The sockaddr the addon keys a remote by, as the kernel reports it (IPv4-mapped on a dual-stack socket). */
  private sockaddrOf(remote: Endpoint): Buffer | null {
    return (this.addon ?? loadBatchAddon())?.sockaddr(remote.address, remote.port, this.mapsIPv4) ?? null;
  }

  /**
   * What the kernel does for us: batched sends and receives, GSO, GRO; and why any of them that
   * was not turned off by an option is missing.
   */
  get offloads(): Offloads {
    const enabled: string[] = [];
    const problems: string[] = [];
    if (this.addon !== null) enabled.push('sendmmsg');
    if (this.addon !== null && this.segmentSends && this.gsoState[0] === 0) enabled.push('gso');
    if (this.receiver !== null) enabled.push('recvmmsg');
    if (this.receiveOffload) enabled.push('gro');
    if (loadBatchAddon() === null) problems.push(`the UDP addon does not load (${ADDON_PATH}): one system call per datagram; run \`npm install\``);
    if (this.gsoState[0] !== 0) problems.push(gsoProblem(this.gsoState[0]));
    if (this.receiver !== null && !this.receiveOffload) problems.push('the kernel refused UDP_GRO (Linux 5.0 has it): each datagram is received whole');
    return { enabled, problem: problems.join('; ') };
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
    if (this.queuedCount === 0) void TURN_END.then(this.flushQueued);
    this.queued[this.queuedCount] = data;
    this.queuedSockaddrs[this.queuedCount] = sockaddr;
    this.queuedCount++;
  }

  /** Sends what is queued now, with one sendmmsg per 64 datagrams; runs by itself after each turn. */
  flush(): void {
    const count = this.queuedCount;
    if (count === 0 || this.addon === null || this.closing) return;
    this.queuedCount = 0;
    const sent = this.addon.sendBatch(this.fd, this.queued, this.queuedSockaddrs, count, this.segmentSends, this.gsoState);
    this.batchCounters.batches++;
    this.batchCounters.sent += sent;
    this.batchCounters.dropped += count - sent;
    if (this.gsoState[0] !== 0 && !this.gsoRefusalLogged) {
      this.gsoRefusalLogged = true;
      log.warn('UDP GSO stopped; equal-sized datagrams now leave one message each', { reason: gsoProblem(this.gsoState[0]) });
    }
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
    this.receiver?.native.close();
    this.receiver = null;
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
/**
 * Settled once: `.then` on it runs a callback once the current turn's handlers are done, as
 * queueMicrotask does, without the async-hooks resource and bound function queueMicrotask makes
 * per call (which cost most while the code is still cold).
 */
const TURN_END = Promise.resolve();

/** Why UDP GSO stopped, for logs and status, from the errno the addon kept. */
export function gsoProblem(errno: number): string {
  const name = getSystemErrorName(-errno);
  const why = name === 'EIO' ? "the outgoing device lacks checksum offload" : 'the kernel refused segmented sends again and again';
  return `UDP GSO is off (${name}: ${why}): each datagram leaves as its own message`;
}

/** A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d; peers and maps use the plain form. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
