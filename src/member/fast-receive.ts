// Arms the native receive path (native/fast-receive.h) for established sessions: once a direct
// active path has carried an IP packet, its read keys and replay window go to the UDP addon, which
// from then on opens the path's records and writes their IP packets to TUN without JavaScript.
// Disarmed (the window coming back) before a path stops being active or ends; counters and the
// liveness clock are brought over from native code on a timer and for status.
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Endpoint, NativeReceive, NativeReceiveCounters } from '../net/transport';
import type { PacketDevice } from '../tun/device';
import type { Path } from './peer';
import type { PeerStore } from './peer-store';
import { isRelayed } from './relay-endpoint';
import { vpnAddressBytes } from './vpn-address';

/** What status shows: whether the path is on, why not, and what it handled. */
export interface FastReceiveStatus {
  enabled: boolean;
  /** Why the native receive path is off ('' when on). */
  problem: string;
  counters: NativeReceiveCounters | null;
}

interface Armed {
  /** Native per-session counters at the last sync, so only the difference is added to the peer. */
  packets: number;
  bytes: number;
}

export class FastReceive {
  private readonly armed = new Map<Path, Armed>();
  private readonly native: NativeReceive | null;
  readonly problem: string;

  constructor(
    native: NativeReceive | null,
    device: PacketDevice,
    private readonly store: PeerStore,
    private readonly clock: Clock,
    log: Logger,
  ) {
    const descriptor = device.descriptor ?? null;
    this.problem =
      native === null ? 'the UDP socket is not read by the native addon (not built, or batched receives are off)'
        : descriptor === null ? 'the packet device has no kernel descriptor to write to'
        : '';
    this.native = this.problem === '' ? native : null;
    if (this.native === null) {
      // In-memory networks (tests) have neither; only a real member is worth a warning.
      if (descriptor !== null) log.warn('the native receive path is off; every record is opened in JavaScript', { reason: this.problem });
      return;
    }
    this.native.attachDevice(descriptor);
    this.native.onOpened(this.opened);
  }

  /**
   * Called after JavaScript delivered an IP packet on `path`: hands its session over when it is
   * the peer's active direct path. A suite native code lacks (AES-CCM-8, which only original
   * peers use) leaves the path JavaScript's; the check is one flag per record from then on.
   */
  arm(path: Path): void {
    const native = this.native;
    const peer = path.peer;
    if (native === null || path.nativeReceive !== 'off' || peer === null || peer.active !== path || peer.vpn === null || isRelayed(path.remote)) return;
    const read = path.session.handOverRead();
    if (read === null || !native.arm(path.remote, read, vpnAddressBytes(peer.vpn))) {
      path.nativeReceive = 'refused';
      return;
    }
    path.nativeReceive = 'armed';
    this.armed.set(path, { packets: 0, bytes: 0 });
  }

  /** Before `path` stops being active or ends: its records are JavaScript's again, with the window native code kept. */
  disarm(path: Path): void {
    if (path.nativeReceive !== 'armed' || this.native === null) return;
    this.syncPath(path, this.clock.now());
    path.nativeReceive = 'off';
    this.armed.delete(path);
    const read = path.session.handOverRead();
    const bits = new Uint32Array(read?.bits.length ?? 0);
    const highest = this.native.disarm(path.remote, bits);
    if (read !== null && highest !== null) path.session.takeBackRead(read.epoch, highest, bits);
  }

  /** Brings native counts into the peers: packets and bytes in, and a fresh liveness clock for any that moved. */
  sync(): void {
    const now = this.clock.now();
    for (const path of this.armed.keys()) this.syncPath(path, now);
  }

  /** Disarms every path and lets go of the device, before it closes. */
  stop(): void {
    for (const path of [...this.armed.keys()]) this.disarm(path);
    this.native?.attachDevice(null);
  }

  status(): FastReceiveStatus {
    this.sync();
    return { enabled: this.native !== null, problem: this.problem, counters: this.native?.counters() ?? null };
  }

  private syncPath(path: Path, now: number): void {
    const last = this.armed.get(path);
    const peer = path.peer;
    if (last === undefined || peer === null || this.native === null) return;
    const { packets, bytes } = this.native.sessionCounters(path.remote);
    if (packets === last.packets) return;
    peer.packetsIn += packets - last.packets;
    peer.bytesIn += bytes - last.bytes;
    last.packets = packets;
    last.bytes = bytes;
    // Authenticated records came since the last sync: at most one sync interval late, well inside
    // the keepalive and dead-peer timings liveness works with.
    peer.lastAuthenticatedAt = now;
    path.lastAuthenticatedAt = now;
  }

  /** A record native code opened that is not a plain IP packet from the peer: the session handles it as its own. */
  private readonly opened = (plaintext: Buffer, from: Endpoint): void => {
    const path = this.store.established.get(from.address, from.port);
    if (path !== undefined && path.nativeReceive === 'armed') path.session.receiveOpened(plaintext);
  };
}
