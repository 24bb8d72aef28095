// Keeps NAT mappings and firewall state fresh toward every established peer while idle, closes
// our own peers that fell silent, and removes peers no rolodex lists any more once they are silent.
import type { DatagramTransport } from '../net/transport';
import type { AttemptManager } from './attempt-manager';
import type { Peer } from './peer';
import { EMPTY_RECORD, type PeerSessions } from './peer-sessions';
import type { PeerStore } from './peer-store';
import type { TimerSet } from './timers';
import { ORIGINAL_KEEPALIVE } from './unsealed-datagrams';

export interface LivenessTimings {
  /** Send something to an established peer when nothing went to it for this long. */
  keepaliveMs: number;
  /** One of our peers with no authenticated record for this long is closed (then punched again if listed). */
  deadAfterMs: number;
  /** A peer no rolodex lists, silent this long, is removed. */
  removeAfterMs: number;
  /** A peer is still listed if a rolodex named it within this long of the latest map (maps may come in chunks). */
  listingGraceMs: number;
}

export class Liveness {
  constructor(
    private readonly store: PeerStore,
    private readonly transport: DatagramTransport,
    private readonly timings: LivenessTimings,
    private readonly timers: TimerSet,
    /** When the latest map from any rolodex came; null before the first one. */
    private readonly lastMapAt: () => number | null,
  ) {}

  start(sessions: PeerSessions, attempts: AttemptManager): void {
    this.timers.every(Math.max(1, Math.floor(this.timings.keepaliveMs / 2)), () => this.tick(sessions, attempts, this.timers.now()));
  }

  /**
   * Listed once a map has named the peer, until a rolodex says Gone or maps keep coming without
   * it: while every rolodex is down nobody counts as unlisted, so an outage removes no one.
   */
  isListed(peer: Peer): boolean {
    if (peer.gone || peer.lastListedAt === null) return false;
    const lastMapAt = this.lastMapAt();
    return lastMapAt === null || lastMapAt - peer.lastListedAt <= this.timings.listingGraceMs;
  }

  tick(sessions: PeerSessions, attempts: AttemptManager, now: number): void {
    for (const peer of [...this.store.peers.values()]) {
      if (!this.isListed(peer) && now - peer.lastAuthenticatedAt > this.timings.removeAfterMs) {
        sessions.closePeer(peer, 'no rolodex lists it and it is silent', { notify: true, repunch: false });
        continue;
      }
      if (peer.state !== 'established' || peer.active === null) continue;
      if (peer.kind === 'meshboi' && now - peer.lastAuthenticatedAt > this.timings.deadAfterMs) {
        sessions.closePeer(peer, `no authenticated record for ${now - peer.lastAuthenticatedAt} ms`, { notify: true, repunch: true });
        continue;
      }
      for (const path of peer.standby) {
        if (now - path.lastAuthenticatedAt > this.timings.deadAfterMs) attempts.dropPath(path);
      }
      if (now - peer.lastSentAt >= this.timings.keepaliveMs) this.keepalive(peer, now);
    }
  }

  /**
   * Our peers get an authenticated empty record (proof of life; never written to TUN). An
   * original peer would write that empty record to its TUN device, fail and exit, so it gets a
   * whole record in an epoch it never reaches, which pion discards (see unsealed-datagrams.ts).
   */
  private keepalive(peer: Peer, now: number): void {
    const path = peer.active;
    if (path === null) return;
    peer.lastSentAt = now;
    if (peer.kind === 'meshboi') path.session.send(EMPTY_RECORD);
    else this.transport.send(ORIGINAL_KEEPALIVE, path.remote.port, path.remote.address);
  }
}
