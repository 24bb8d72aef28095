// Arms the native data path for established sessions: once a direct active path has carried an
// IP packet, its read keys and replay window go to the UDP addon (native/fast-receive.h), which
// opens its records and writes their IP packets to TUN, and its write keys and sequence numbers go
// to the TUN addon (native/fast-send.h), which seals packets read for the peer's VPN address and
// sends them; neither calls into JavaScript. Disarmed (window and numbers coming back) before a
// path stops being active or ends. Counters and the liveness clock come over on a timer and for
// status. The TypeScript engine stays the reference and does everything else.
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Endpoint, NativeReceive, NativeReceiveCounters } from '../net/transport';
import { gsoProblem } from '../net/udp-transport';
import type { NativeSend, NativeSendCounters, PacketDevice } from '../tun/device';
import type { Path } from './peer';
import type { PeerStore } from './peer-store';
import { isRelayed } from './relay-endpoint';
import { vpnAddressBytes } from './vpn-address';

/** What status shows: whether the native path is on, why not, and what it handled. */
export interface FastPathStatus {
  enabled: boolean;
  /** Why the native path is off ('' when on). */
  problem: string;
  receive: NativeReceiveCounters | null;
  send: NativeSendCounters | null;
  /** Why the native send path sends each record as its own datagram ('' while UDP GSO works). */
  sendProblem: string;
}

interface Armed {
  /** The peer's VPN address as the addons key it. */
  vpn: Buffer;
  /** The write epoch whose sequence numbers native code owns. */
  writeEpoch: number;
  /** Native per-session counters at the last sync, so only the difference is added to the peer. */
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

/** Settled once: `.then` on it runs after the current turn's handlers, as in udp-transport.ts. */
const TURN_END = Promise.resolve();

export class FastPath {
  private readonly armed = new Map<Path, Armed>();
  private readonly receive: NativeReceive | null;
  private readonly send: NativeSend | null;
  readonly problem: string;
  private gsoRefusalLogged = false;

  constructor(
    receive: NativeReceive | null,
    device: PacketDevice,
    private readonly store: PeerStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const descriptor = device.descriptor ?? null;
    const send = device.nativeSend ?? null;
    this.problem =
      receive === null ? 'the UDP socket is not read by the native addon (not built, or batched receives are off)'
        : descriptor === null || send === null ? 'the packet device has no native send path'
        : '';
    this.receive = this.problem === '' ? receive : null;
    this.send = this.problem === '' ? send : null;
    if (this.receive === null || this.send === null || descriptor === null) {
      // In-memory networks (tests) have neither; only a real device is worth a warning.
      if (descriptor !== null) log.warn('the native data path is off; every record is sealed and opened in JavaScript', { reason: this.problem });
      return;
    }
    this.receive.attachDevice(descriptor);
    this.receive.onOpened(this.opened);
    this.send.attachSocket(this.receive.socketFd);
  }

  /**
   * Called after JavaScript delivered an IP packet on `path`: hands its session over, once the
   * current batch is done, when it is still the peer's active direct path. A suite native code lacks (AES-CCM-8, which only original
   * peers use) leaves the path JavaScript's; the check is one field per record from then on.
   */
  arm(path: Path): void {
    if (this.receive === null || path.native !== 'off') return;
    // After the batch: a datagram may hold more records, which the record layer's window must
    // have seen before it is handed over.
    path.native = 'pending';
    void TURN_END.then(() => this.armNow(path));
  }

  private armNow(path: Path): void {
    const { receive, send } = this;
    const peer = path.peer;
    if (path.native !== 'pending') return;
    path.native = 'off';
    if (receive === null || send === null || peer === null || peer.active !== path || peer.vpn === null || isRelayed(path.remote)) return;
    const vpn = vpnAddressBytes(peer.vpn);
    const sockaddr = receive.sockaddr(path.remote);
    const read = path.session.handOverRead();
    if (sockaddr === null || read === null || !receive.arm(path.remote, read, vpn)) {
      path.native = 'refused';
      return;
    }
    const write = path.session.handOverWrite(() => send.takeSequence(vpn));
    if (write === null || !send.arm(vpn, sockaddr, write, peer.maxPacketBytes)) {
      if (write !== null) path.session.takeBackWrite(write.epoch, write.next);
      this.takeBackRead(path, receive);
      path.native = 'refused';
      return;
    }
    path.native = 'armed';
    this.armed.set(path, { vpn, writeEpoch: write.epoch, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 });
  }

  /** Before `path` stops being active or ends: its records are JavaScript's again, with the numbers and window native code kept. */
  disarm(path: Path): void {
    const { receive, send } = this;
    const armed = this.armed.get(path);
    if (armed === undefined || receive === null || send === null) return;
    this.syncPath(path, armed, this.clock.now());
    this.armed.delete(path);
    path.native = 'off';
    const next = send.disarm(armed.vpn);
    if (next !== null) path.session.takeBackWrite(armed.writeEpoch, next);
    this.takeBackRead(path, receive);
  }

  /** Brings native counts into the peers and their sessions' counters, and the liveness clocks of any that moved. */
  sync(): void {
    const now = this.clock.now();
    for (const [path, armed] of this.armed) this.syncPath(path, armed, now);
    if (!this.gsoRefusalLogged && this.send !== null) {
      const errno = this.send.counters().gsoRefusedErrno;
      if (errno !== 0) {
        this.gsoRefusalLogged = true;
        this.log.warn('UDP GSO stopped on the native send path; its records now leave one message each', { reason: gsoProblem(errno) });
      }
    }
  }

  /** Disarms every path and lets go of the device and the socket, before either closes. */
  stop(): void {
    for (const path of [...this.armed.keys()]) this.disarm(path);
    this.send?.attachSocket(-1);
    this.receive?.attachDevice(null);
  }

  status(): FastPathStatus {
    this.sync();
    const send = this.send?.counters() ?? null;
    const sendProblem = send !== null && send.gsoRefusedErrno !== 0 ? gsoProblem(send.gsoRefusedErrno) : '';
    return { enabled: this.receive !== null, problem: this.problem, receive: this.receive?.counters() ?? null, send, sendProblem };
  }

  private takeBackRead(path: Path, receive: NativeReceive): void {
    const read = path.session.handOverRead();
    const bits = new Uint32Array(read?.bits.length ?? 0);
    const highest = receive.disarm(path.remote, bits);
    if (read !== null && highest !== null) path.session.takeBackRead(read.epoch, highest, bits);
  }

  private syncPath(path: Path, armed: Armed, now: number): void {
    const peer = path.peer;
    if (peer === null || this.receive === null || this.send === null) return;
    const inbound = this.receive.sessionCounters(path.remote);
    if (inbound.packets !== armed.packetsIn) {
      const packets = inbound.packets - armed.packetsIn;
      const bytes = inbound.bytes - armed.bytesIn;
      peer.packetsIn += packets;
      peer.bytesIn += bytes;
      path.session.countHandedOver(packets, bytes, 0, 0);
      armed.packetsIn = inbound.packets;
      armed.bytesIn = inbound.bytes;
      // Authenticated records came since the last sync: at most one sync interval late, well
      // inside the keepalive and dead-peer timings liveness works with.
      peer.lastAuthenticatedAt = now;
      path.lastAuthenticatedAt = now;
    }
    const outbound = this.send.sessionCounters(armed.vpn);
    if (outbound.packets !== armed.packetsOut) {
      const packets = outbound.packets - armed.packetsOut;
      const bytes = outbound.bytes - armed.bytesOut;
      peer.packetsOut += packets;
      peer.bytesOut += bytes;
      path.session.countHandedOver(0, 0, packets, bytes);
      armed.packetsOut = outbound.packets;
      armed.bytesOut = outbound.bytes;
      peer.lastSentAt = now;
    }
  }

  /** A record native code opened that is not a plain IP packet from the peer: the session handles it as its own. */
  private readonly opened = (plaintext: Buffer, from: Endpoint): void => {
    const path = this.store.established.get(from.address, from.port);
    if (path !== undefined && path.native === 'armed') path.session.receiveOpened(plaintext);
  };
}
