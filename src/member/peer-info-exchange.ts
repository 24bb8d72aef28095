// Our members tell each other their peer-info (peer-info.ts) through the session, never an
// original peer: sent when a session is installed, resent with backoff while the peer has not said
// "heard", answered when the peer has not heard ours. What a peer claims is applied through
// PeerStore.claimExtras, so only what nobody else holds becomes the peer's.
import type { Logger } from '../log';
import { RateLimitedLog } from '../log';
import { CONTROL_TYPE, type ControlRecords } from './control-record';
import type { Peer } from './peer';
import { decodePeerInfo, encodePeerInfo, PeerInfoError, type PeerInfo } from './peer-info';
import type { PeerStore } from './peer-store';
import type { TimerSet } from './timers';

/** What we tell our peers about ourselves. */
export type LocalInfo = Omit<PeerInfo, 'heard'>;

export interface PeerInfoEvents {
  /** The routes accepted from peers changed (the device's routes follow). */
  routesChanged(): void;
  /** The peer runs in the other mode: its session must end. */
  modeMismatch(peer: Peer, reason: string): void;
}

/**
 * Resends to a peer that has not said "heard", each after twice the wait of the one before; then
 * none until its next session. A member of ours from before peer-info never answers, and loss
 * seven times in a row is the only other cause.
 */
const MAX_RESENDS = 6;

export class PeerInfoExchange {
  /** Peer-info records that did not decode. */
  malformed = 0;
  /** The record last applied per peer: a resent identical record changes nothing. */
  private readonly applied = new WeakMap<Peer, Buffer>();
  /** Peers with claims refused for now: tried again each round, since a holder may leave. */
  private readonly refused = new Map<Peer, PeerInfo>();
  /** Per peer without a "heard": resends so far, and when the next one is due. */
  private readonly resends = new WeakMap<Peer, { count: number; dueAt: number }>();
  private resendMs = 0;
  private readonly warnings: RateLimitedLog;

  constructor(
    private readonly store: PeerStore,
    private readonly local: LocalInfo,
    private readonly acceptRoutes: boolean,
    private readonly timers: TimerSet,
    private readonly events: PeerInfoEvents,
    private readonly log: Logger,
  ) {
    this.warnings = new RateLimitedLog(log, 60_000);
  }

  attach(control: ControlRecords, resendMs: number): void {
    this.resendMs = resendMs;
    control.on(CONTROL_TYPE.peerInfo, (peer, record) => this.receive(peer, record));
    this.timers.every(resendMs, () => {
      for (const peer of this.store.peers.values()) if (peer.kind === 'meshboi' && peer.active && !peer.infoAcked) this.resend(peer);
      for (const [peer, info] of this.refused) {
        if (peer.state === 'closed') this.refused.delete(peer);
        else this.claim(peer, info);
      }
    });
  }

  /** A session with one of our members was installed: it starts from nothing, so both sides tell again. */
  established(peer: Peer): void {
    if (peer.kind !== 'meshboi') {
      if (this.local.mode === 'tap') this.events.modeMismatch(peer, 'the peer is an original member, which only knows TUN, and we are a TAP one: a network is all TUN or all TAP (--mode)');
      return;
    }
    peer.infoAcked = false;
    peer.infoHeard = false;
    this.applied.delete(peer);
    this.refused.delete(peer);
    this.resends.set(peer, { count: 0, dueAt: this.timers.now() + this.resendMs });
    this.send(peer);
  }

  private resend(peer: Peer): void {
    const due = this.resends.get(peer);
    const now = this.timers.now();
    if (!due || due.count >= MAX_RESENDS || now < due.dueAt) return;
    due.count++;
    due.dueAt = now + this.resendMs * 2 ** due.count;
    this.send(peer);
  }

  private send(peer: Peer): void {
    const path = peer.active;
    if (!path) return;
    path.session.send(encodePeerInfo({ ...this.local, heard: peer.infoHeard }));
    peer.lastSentAt = this.timers.now();
  }

  private receive(peer: Peer, record: Buffer): void {
    let info;
    try {
      info = decodePeerInfo(record);
    } catch (error) {
      if (!(error instanceof PeerInfoError)) throw error;
      this.malformed++;
      this.warnings.warn(`malformed:${peer.outsideKey}`, 'a peer sent a peer-info record we cannot read', { vpnIp: peer.vpn?.text, error: error.message });
      return;
    }
    const first = !peer.infoHeard;
    peer.infoHeard = true;
    if (info.heard) peer.infoAcked = true;
    if (!info.heard) this.send(peer);
    if (info.mode !== this.local.mode) {
      this.events.modeMismatch(peer, `the peer is a ${info.mode.toUpperCase()} member and we are a ${this.local.mode.toUpperCase()} one: a network is all TUN or all TAP (--mode)`);
      return;
    }
    const body = record.subarray(2);
    if (this.applied.get(peer)?.equals(body)) return;
    this.applied.set(peer, Buffer.from(body));
    this.claim(peer, info);
    if (first) {
      this.log.info('peer info', {
        vpnIp: peer.vpn?.text,
        name: peer.name,
        addresses: peer.extraVpn.map((address) => address.text),
        routes: info.routes.map((route) => route.text),
        accepted: peer.routes.map((route) => route.text),
      });
    }
  }

  /** Gives the peer what it claims and nobody else holds; what is refused is tried again next round. */
  private claim(peer: Peer, info: PeerInfo): void {
    const hadRoutes = peer.routes.length > 0;
    const refused = this.store.claimExtras(peer, { addresses: info.addresses, routes: this.acceptRoutes ? info.routes : [], name: info.name });
    for (const reason of refused) this.warnings.warn(`refused:${peer.outsideKey}:${reason}`, 'refused part of a peer\'s claims', { vpnIp: peer.vpn?.text, reason });
    if (refused.length > 0) this.refused.set(peer, info);
    else this.refused.delete(peer);
    if (hadRoutes || peer.routes.length > 0) this.events.routesChanged();
  }
}
