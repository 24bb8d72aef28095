// Linux TUN and TAP devices, the only platform-specific code under the packet-device seam: opens
// the device through the native addon (native/tun.cc), configures the link with iproute2's `ip`.
// Writes made in one turn go to the kernel together, TCP segments coalesced where offloads allow.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { Address4, Address6 } from 'ip-address';
import { logger } from '../log';
import type { WriteHandover } from '../dtls/index';
import { PEER_MTU_CEILING, type NativeSend, type NativeSendCounters, type PacketDevice, type PacketsHandler } from './device';

export type TunMode = 'tun' | 'tap';

export interface TunOptions {
  /** Interface name, at most 15 characters, may hold one `%d`; omitted, the kernel picks tunN or tapN. */
  name?: string;
  /** Link MTU in bytes; 1500 when omitted. */
  mtu?: number;
  /** Addresses with their prefix length: "192.168.50.1/24", "fd00::1/64". */
  addresses?: string[];
  /** Further destinations routed into the device, beyond the prefixes of its addresses: "10.9.0.0/16". */
  routes?: string[];
  /** 'tun' carries IP packets (the default), 'tap' Ethernet frames. */
  mode?: TunMode;
  /** Creates the device inside this named network namespace (`ip netns add NAME`) instead of ours. */
  netns?: string;
  /** The clone device; only tests point it elsewhere. */
  devicePath?: string;
  /**
   * TUN only: virtio-net headers with TCP/UDP segmentation and checksum offload, so reads bring
   * super-packets (cut into MTU-sized packets here) and batch writes coalesce TCP; default true.
   * Where the kernel lacks them the device opens plain, and `offloads` says why.
   */
  offloads?: boolean;
}

export interface TunOffloads {
  /** What the kernel took: "csum", "tso4", "tso6", "uso4", "uso6", and "gro" (coalesced writes). */
  enabled: readonly string[];
  /** Why something asked for is missing, or '' when nothing is. */
  problem: string;
}

export interface TunCounters {
  packetsRead: number;
  bytesRead: number;
  /** Wake-ups that delivered packets; packetsRead / readBatches is the mean batch size. */
  readBatches: number;
  /** Packets lost to a read error, or longer than the MTU the device was opened with. */
  readErrors: number;
  packetsWritten: number;
  bytesWritten: number;
  /** Writes refused because the kernel queue was full (EAGAIN, ENOBUFS). */
  writeDropsFull: number;
  /** Writes the kernel rejected: not an IP packet, or the link is down. */
  writeDropsRejected: number;
  /** Reads that brought a super-packet, cut into several packets (offloads only). */
  superPacketsRead: number;
  /** Writes that carried several coalesced TCP segments (offloads only). */
  superPacketsWritten: number;
}

export type TunErrorCode =
  | 'NO_TUN_DEVICE'
  | 'PERMISSION'
  | 'NAME_IN_USE'
  | 'BAD_MTU'
  | 'BAD_NAME'
  | 'BAD_ADDRESS'
  | 'NO_NETNS'
  | 'NO_ADDON'
  | 'LINK_CONFIG'
  | 'OPEN_FAILED';

export class TunError extends Error {
  override readonly name = 'TunError';

  constructor(readonly code: TunErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The MTUs the kernel's tun driver accepts: 68 (IPv4's minimum) up to 64 KiB less the link header. */
export const MTU_RANGE: Readonly<Record<TunMode, { min: number; max: number }>> = {
  tun: { min: 68, max: 65535 },
  tap: { min: 68, max: 65521 },
};
const IPV6_MIN_MTU = 1280;
const DEFAULT_MTU = 1500;
const DEFAULT_DEVICE_PATH = '/dev/net/tun';
const IFNAMSIZ = 16;
/** Packets handed to JavaScript per wake-up at most; the rest wait for the next loop turn. */
const BATCH_SLOTS = 64;
/** Packets queued for one write call at most; a longer turn writes as it goes. */
const WRITE_QUEUE_LIMIT = 1024;
/**
 * With TSO each packet the kernel queues for us can be a 64 KiB super-packet, and the TUN queue
 * counts packets, not bytes: 500 of them (the default) held tens of milliseconds of a TCP stream in
 * front of every other packet. Super-packets of at most 8 KiB and 16 of them bound it to 128 KiB,
 * a few milliseconds at a member's speed; TCP sees the loss sooner instead of filling the queue.
 * Packets that are not super-packets (UDP, IP fragments) need the slots: with 8 a UDP flood lost
 * every packet that came while the member was not scheduled. 64 slots of 16 KiB held 10 ms of
 * TCP under load; the cost of smaller super-packets is one more TUN read per 8 KiB.
 */
const OFFLOAD_QUEUE_PACKETS = 16;
const OFFLOAD_SUPER_PACKET_BYTES = 8192;
/** An Ethernet header and one VLAN tag, which a TAP frame carries on top of the MTU. */
const LINK_HEADER_ROOM = 18;
const ADDON_PATH = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'meshboi_tun.node');

/** Same order as the Counter enum in native/tun.cc. */
const COUNTER_NAMES = [
  'packetsRead',
  'bytesRead',
  'readBatches',
  'readErrors',
  'packetsWritten',
  'bytesWritten',
  'writeDropsFull',
  'writeDropsRejected',
  'superPacketsRead',
  'superPacketsWritten',
] as const satisfies ReadonlyArray<keyof TunCounters>;

interface NativeTunDevice {
  readonly name: string;
  readonly offloads: TunOffloads;
  readonly descriptor: { fd: number; vnet: boolean } | null;
  start(onReadable: (count: number) => void): void;
  writeBatch(packets: readonly Uint8Array[], count: number): void;
  readCounters(out: Float64Array): void;
  attachSocket(fd: number): void;
  armSend(vpn: Uint8Array, sockaddr: Buffer, aead: string, key: Uint8Array, iv: Uint8Array, epoch: number, next: number, maxPacket: number): boolean;
  disarmSend(vpn: Uint8Array): number | null;
  takeSequence(vpn: Uint8Array): number | null;
  sendCounters(vpn: Uint8Array, out: Float64Array): void;
  close(): void;
}

/** After COUNTER_NAMES: fast::SendCounter in native/fast-send.h, the armed peers, then the errno that stopped GSO. */
const SEND_COUNTER_NAMES = ['sent', 'refused', 'armed', 'gsoRefusedErrno'] as const satisfies ReadonlyArray<keyof NativeSendCounters>;

/** The addon's offload codecs without a device, for tests and fuzzing (native/offload.h). */
export interface OffloadCodec {
  /** Cuts what a read with a virtio-net header returned into packets shorter than `capacity`; null when refused. */
  segment(headerAndPacket: Uint8Array, capacity: number): Buffer[] | null;
  /** What one batch write hands the kernel: one buffer per write, its virtio-net header first. */
  coalesce(packets: readonly Uint8Array[]): Buffer[];
}

interface NativeAddon {
  offloadCodec: OffloadCodec;
  TunDevice: new (options: {
    path: string;
    name: string;
    tap: boolean;
    offloads: boolean;
    netnsPath?: string;
    slab: Uint8Array;
    lengths: Uint32Array;
    slotSize: number;
  }) => NativeTunDevice;
}

const log = logger('tun');
let addon: NativeAddon | undefined;

/**
 * Opens a TUN (IP packets) or TAP (Ethernet frames) device and configures its link: MTU,
 * addresses, link up, routes. Options are checked before anything reaches the kernel; if link
 * configuration fails, the device is closed again, so a failed open leaves no interface behind.
 */
export async function openTun(options: TunOptions = {}): Promise<TunDevice> {
  const mode = options.mode ?? 'tun';
  const name = options.name ?? '';
  const mtu = options.mtu ?? DEFAULT_MTU;
  checkName(name);
  if (options.netns !== undefined) checkNamespaceName(options.netns);
  const addresses = (options.addresses ?? []).map((text) => parsePrefix(text, 'address'));
  const routes = (options.routes ?? []).map((text) => parsePrefix(text, 'route'));
  checkMtu(mtu, mode, addresses);

  const offloads = mode === 'tun' && (options.offloads ?? true);
  const native = openNative(loadAddon(), options.devicePath ?? DEFAULT_DEVICE_PATH, name, mode, mtu, offloads, options.netns);
  const device = new TunDevice(native.device, native.slab, native.lengths, native.slotSize, mtu, mode);
  if (offloads && device.offloads.problem !== '') {
    log.warn('TUN offloads are partly or wholly unavailable; the device works without them', {
      device: device.name,
      enabled: device.offloads.enabled.join(' ') || 'none',
      reason: device.offloads.problem,
    });
  }
  try {
    await configureLink(device.name, options.netns, mtu, addresses, routes);
  } catch (error) {
    await device.close();
    throw error;
  }
  if (device.offloads.enabled.some((offload) => offload.startsWith('tso'))) await boundQueue(device.name, options.netns);
  return device;
}

/** See OFFLOAD_QUEUE_PACKETS; a kernel or `ip` that refuses leaves the device working, only slower to answer under load. */
async function boundQueue(name: string, netns: string | undefined): Promise<void> {
  const args = ['link', 'set', 'dev', name, 'txqueuelen', String(OFFLOAD_QUEUE_PACKETS), 'gso_max_size', String(OFFLOAD_SUPER_PACKET_BYTES)];
  try {
    await runIp(netns, args);
  } catch (error) {
    log.warn('cannot bound the TUN queue; under load it may add tens of milliseconds of latency', { device: name, reason: (error as Error).message });
  }
}

/** A TUN or TAP device from openTun. Reads arrive in batches on libuv readiness, never polled. */
export class TunDevice implements PacketDevice {
  private handler: PacketsHandler | null = null;
  private closed = false;
  /** One view per slot, kept while packets of the same length keep arriving in it. */
  private readonly views: Buffer[];
  private readonly batch: Buffer[] = [];
  private readonly counterValues = new Float64Array(COUNTER_NAMES.length + SEND_COUNTER_NAMES.length);
  private readonly sessionCounterValues = new Float64Array(2);
  /** Packets written this turn, waiting for one native call; slots are reused. */
  private readonly queued: Uint8Array[] = [];
  private queuedCount = 0;
  private readonly flushQueued = (): void => this.flush();
  readonly name: string;
  readonly offloads: TunOffloads;

  /** Use openTun. */
  constructor(
    private readonly native: NativeTunDevice,
    private readonly slab: Buffer,
    private readonly lengths: Uint32Array,
    private readonly slotSize: number,
    readonly mtu: number,
    readonly mode: TunMode,
  ) {
    this.name = native.name;
    this.offloads = native.offloads;
    this.views = Array.from(lengths, (_, slot) => slab.subarray(slot * slotSize, slot * slotSize));
  }

  /** The native send path; null on a TAP device, whose frames it does not take. */
  get nativeSend(): NativeSend | null {
    return this.mode === 'tap' ? null : this.nativeSendPath;
  }

  private readonly nativeSendPath: NativeSend = {
    attachSocket: (fd) => this.native.attachSocket(fd),
    arm: (vpn: Uint8Array, sockaddr: Buffer, write: WriteHandover, maxPacketBytes: number) =>
      !this.closed && this.native.armSend(vpn, sockaddr, write.aead, write.key, write.iv, write.epoch, write.next, maxPacketBytes),
    disarm: (vpn) => this.native.disarmSend(vpn),
    takeSequence: (vpn) => this.native.takeSequence(vpn),
    sessionCounters: (vpn) => {
      const values = this.sessionCounterValues;
      this.native.sendCounters(vpn, values);
      return { packets: values[0], bytes: values[1] };
    },
    counters: () => {
      this.native.readCounters(this.counterValues);
      const counters = {} as NativeSendCounters;
      SEND_COUNTER_NAMES.forEach((name, index) => (counters[name] = this.counterValues[COUNTER_NAMES.length + index]));
      return counters;
    },
  };

  get descriptor(): { fd: number; vnet: boolean } | null {
    return this.closed ? null : this.native.descriptor;
  }

  get counters(): TunCounters {
    this.native.readCounters(this.counterValues);
    const counters = {} as TunCounters;
    COUNTER_NAMES.forEach((counter, index) => (counters[counter] = this.counterValues[index]));
    return counters;
  }

  /** The batch array and its buffers are reused for the next batch: copy what you keep. */
  onPackets(handler: PacketsHandler): void {
    if (this.closed) return;
    const started = this.handler !== null;
    this.handler = handler;
    if (!started) this.native.start(this.onReadable);
  }

  /** Queued until the turn's microtasks run, then written with the rest of the turn's packets. */
  write(packet: Uint8Array): void {
    if (this.closed) return;
    if (this.queuedCount === 0) void TURN_END.then(this.flushQueued);
    this.queued[this.queuedCount++] = packet;
    if (this.queuedCount === WRITE_QUEUE_LIMIT) this.flush();
  }

  /** Written at once, after anything queued by write(). */
  writeBatch(packets: readonly Uint8Array[]): void {
    if (this.closed) return;
    this.flush();
    this.native.writeBatch(packets, packets.length);
  }

  /** Writes what write() queued now; runs by itself once the turn's microtasks run. */
  flush(): void {
    const count = this.queuedCount;
    if (count === 0) return;
    this.queuedCount = 0;
    if (!this.closed) this.native.writeBatch(this.queued, count);
    // Drops the references so written buffers can be collected; the array keeps its slots.
    this.queued.fill(EMPTY, 0, count);
  }

  /** Closing the descriptor deletes the interface; its addresses and routes go with it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.native.close();
  }

  /** Called by the addon with the number of packets now in the slab, or -errno once reading has failed. */
  private readonly onReadable = (count: number): void => {
    if (count < 0) {
      log.error('the TUN device stopped delivering packets, probably deleted from outside; closing it', {
        device: this.name,
        error: getSystemErrorName(count),
      });
      void this.close();
      return;
    }
    const handler = this.handler;
    if (this.closed || handler === null) return;
    const batch = this.batch;
    batch.length = count;
    for (let slot = 0; slot < count; slot++) {
      const length = this.lengths[slot];
      let view = this.views[slot];
      if (view.length !== length) {
        const start = slot * this.slotSize;
        view = this.views[slot] = this.slab.subarray(start, start + length);
      }
      batch[slot] = view;
    }
    handler(batch);
  };
}

const EMPTY = new Uint8Array(0);
/**
 * Settled once: `.then` on it runs a callback once the current turn's handlers are done, as
 * queueMicrotask does, without the async-hooks resource and bound function queueMicrotask makes
 * per call (which cost most while the code is still cold).
 */
const TURN_END = Promise.resolve();

export function offloadCodec(): OffloadCodec {
  return loadAddon().offloadCodec;
}

function loadAddon(): NativeAddon {
  if (addon) return addon;
  try {
    addon = require(ADDON_PATH) as NativeAddon;
    return addon;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new TunError(
      'NO_ADDON',
      missing
        ? `the TUN addon is not built (${ADDON_PATH} is missing): run \`npm install\` (needs python3, make and g++)`
        : `the TUN addon at ${ADDON_PATH} does not load (${(error as Error).message}): rebuild it with \`npm rebuild\``,
      { cause: error },
    );
  }
}

function openNative(addon: NativeAddon, devicePath: string, name: string, mode: TunMode, mtu: number, offloads: boolean, netns?: string) {
  // One byte more than the largest legal frame, so a read that fills a slot reveals truncation; a
  // route to one peer may carry packets up to PEER_MTU_CEILING (member/path-mtu.ts).
  const slotSize = Math.ceil((Math.max(mtu, PEER_MTU_CEILING) + LINK_HEADER_ROOM + 1) / 64) * 64;
  const slab = Buffer.allocUnsafeSlow(slotSize * BATCH_SLOTS);
  const lengths = new Uint32Array(BATCH_SLOTS);
  try {
    const device = new addon.TunDevice({
      path: devicePath,
      name,
      tap: mode === 'tap',
      offloads,
      netnsPath: netns === undefined ? undefined : path.join('/run/netns', netns),
      slab,
      lengths,
      slotSize,
    });
    return { device, slab, lengths, slotSize };
  } catch (error) {
    throw openError(error as NodeJS.ErrnoException, devicePath, name, netns);
  }
}

function openError(error: NodeJS.ErrnoException, devicePath: string, name: string, netns?: string): TunError {
  const { code, syscall } = error;
  const permission = code === 'EPERM' || code === 'EACCES';
  const options = { cause: error };
  if (syscall === 'open-netns' || syscall === 'setns') {
    return permission
      ? new TunError('PERMISSION', `entering network namespace "${netns}" needs root: run with sudo`, options)
      : new TunError('NO_NETNS', `network namespace "${netns}" does not exist: create it with \`ip netns add ${netns}\``, options);
  }
  if (syscall === 'open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO')) {
    const advice = 'run `modprobe tun`, or `docker run --device /dev/net/tun`';
    return new TunError('NO_TUN_DEVICE', `cannot open ${devicePath}: the tun module is not loaded or the container lacks the device: ${advice}`, options);
  }
  if (syscall === 'open' && permission) {
    const advice = 'run with sudo (in a container, also pass --device /dev/net/tun)';
    return new TunError('PERMISSION', `cannot open ${devicePath}: needs root or CAP_NET_ADMIN: ${advice}`, options);
  }
  const what = name ? `interface "${name}"` : 'a TUN interface';
  if (permission) return new TunError('PERMISSION', `creating ${what} needs root or CAP_NET_ADMIN: run with sudo`, options);
  if (code === 'EBUSY' || code === 'EEXIST') {
    const advice = `choose another name, or remove the old interface with \`ip link delete ${name}\``;
    return new TunError('NAME_IN_USE', `interface name "${name}" is already in use: ${advice}`, options);
  }
  return new TunError('OPEN_FAILED', `creating ${what} failed: ${error.message}`, options);
}

function checkName(name: string): void {
  const percent = name.split('%').length - 1;
  const valid =
    Buffer.byteLength(name) < IFNAMSIZ &&
    name !== '.' &&
    name !== '..' &&
    !/[\s/:]/.test(name) &&
    (percent === 0 || (percent === 1 && name.includes('%d')));
  if (!valid) {
    throw new TunError(
      'BAD_NAME',
      `interface name "${name}" is not valid: use at most ${IFNAMSIZ - 1} characters without spaces, "/" or ":" (one "%d" lets the kernel number it)`,
    );
  }
}

function checkNamespaceName(netns: string): void {
  if (netns === '' || netns === '.' || netns === '..' || netns.includes('/')) {
    throw new TunError('NO_NETNS', `"${netns}" is not a network namespace name: use one that \`ip netns list\` shows`);
  }
}

interface Prefix {
  /** The text as given, e.g. "192.168.50.1/24". */
  text: string;
  family: 4 | 6;
}

/** Addresses need a prefix length; routes also need zero host bits, which `ip` would refuse later. */
function parsePrefix(text: string, kind: 'address' | 'route'): Prefix {
  const family = text.includes(':') ? 6 : 4;
  const parsed = parseAddress(text, family);
  const example = kind === 'address' ? '192.168.50.1/24 or fd00::1/64' : '10.9.0.0/16 or fd09::/64';
  if (parsed === null || !text.includes('/')) {
    throw new TunError('BAD_ADDRESS', `${kind} "${text}" is not valid: give an address with a prefix length, such as ${example}`);
  }
  if (kind === 'route' && parsed.startAddress().correctForm() !== parsed.correctForm()) {
    throw new TunError(
      'BAD_ADDRESS',
      `route "${text}" has host bits set: use its network, ${parsed.startAddress().correctForm()}/${parsed.subnetMask}`,
    );
  }
  return { text, family };
}

function parseAddress(text: string, family: 4 | 6): Address4 | Address6 | null {
  try {
    return family === 4 ? new Address4(text) : new Address6(text);
  } catch {
    return null;
  }
}

function checkMtu(mtu: number, mode: TunMode, addresses: readonly Prefix[]): void {
  const { min, max } = MTU_RANGE[mode];
  if (!Number.isInteger(mtu) || mtu < min || mtu > max) {
    throw new TunError('BAD_MTU', `MTU ${mtu} is out of range: a ${mode.toUpperCase()} device takes ${min} to ${max} bytes`);
  }
  const ipv6 = addresses.find((address) => address.family === 6);
  if (ipv6 && mtu < IPV6_MIN_MTU) {
    throw new TunError(
      'BAD_MTU',
      `MTU ${mtu} is too small for the IPv6 address ${ipv6.text}: IPv6 needs at least ${IPV6_MIN_MTU} bytes`,
    );
  }
}

/** Order matters: routes through the device need the link up, and the link comes up with its addresses. */
async function configureLink(
  name: string,
  netns: string | undefined,
  mtu: number,
  addresses: readonly Prefix[],
  routes: readonly Prefix[],
): Promise<void> {
  await runIp(netns, ['link', 'set', 'dev', name, 'mtu', String(mtu)]);
  for (const address of addresses) {
    // Our own address on a fresh link: duplicate detection would only delay its use.
    const noDad = address.family === 6 ? ['nodad'] : [];
    await runIp(netns, ['address', 'add', address.text, 'dev', name, ...noDad]);
  }
  await runIp(netns, ['link', 'set', 'dev', name, 'up']);
  for (const route of routes) await runIp(netns, [`-${route.family}`, 'route', 'add', route.text, 'dev', name]);
}

function runIp(netns: string | undefined, args: string[]): Promise<void> {
  const fullArgs = netns === undefined ? args : ['-n', netns, ...args];
  return new Promise((resolve, reject) => {
    execFile('ip', fullArgs, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (!error) {
        resolve();
        return;
      }
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const message = missing
        ? 'the `ip` command was not found: install iproute2 (`apt-get install iproute2`)'
        : `\`ip ${fullArgs.join(' ')}\` failed: ${stderr.trim() || error.message}`;
      reject(new TunError('LINK_CONFIG', message, { cause: error }));
    });
  });
}
