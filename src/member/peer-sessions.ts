// What the member does when a session of a path completes or ends: carries out the outcome
// PeerStore.resolveRace decides (install, replace, take over, standby, refuse), moves to a standby
// path when the active one ends, and closes peers, punching again while a rolodex lists them.
import type { Clock } from '../clock';
import type { CloseReason, HandshakeInfo } from '../dtls/index';
import type { Logger } from '../log';
import { RateLimitedLog } from '../log';
import { SYMMETRIC_HINT, type AttemptManager } from './attempt-manager';
import { Peer, type Path } from './peer';
import type { PeerStore } from './peer-store';
import { ORIGINAL_MAX_DATAGRAM_BYTES } from './unsealed-datagrams';
import type { VpnAddress } from './vpn-address';

/** A zero-length application_data record: the keepalive only our own peers may receive. */
export const EMPTY_RECORD = Buffer.alloc(0);

export interface ClosePolicy {
  /** Send close_notify on established sessions; only ever honoured for our own peers. */
  notify: boolean;
  /** Punch again if a rolodex still lists the peer. */
  repunch: boolean;
}

export class PeerSessions {
  private readonly warnings: RateLimitedLog;
  private stopped = false;

  constructor(
    private readonly store: PeerStore,
    private readonly attempts: AttemptManager,
    private readonly clock: Clock,
    private readonly isListed: (peer: Peer) => boolean,
    private readonly log: Logger,
    /** Called once a peer's new session is installed (our members then exchange peer-info). */
    private readonly onInstalled: (peer: Peer) => void = () => {},
  ) {
    this.warnings = new RateLimitedLog(log, 60_000);
  }

  handshakeComplete(path: Path, info: HandshakeInfo): void {
    path.info = info;
    const now = this.clock.now();
    const outcome = this.store.resolveRace({ kind: 'handshake_complete', path, identity: info.peerIdentity }, now);
    switch (outcome.action) {
      case 'install':
        return this.install(outcome.peer ?? this.adopt(path, now), path, outcome.vpn, now);
      case 'take_over':
        this.log.info('member moved to a new outside address', { vpnIp: outcome.vpn.text, from: outcome.holder.outsideKey, to: path.remoteKey });
        this.closePeer(outcome.holder, `replaced by ${path.remoteKey}`, { notify: false, repunch: false });
        return this.install(outcome.peer ?? this.adopt(path, now), path, outcome.vpn, now);
      case 'replace':
        this.log.info('peer reconnected on the same address', { vpnIp: outcome.vpn.text, endpoint: path.remoteKey });
        this.store.forgetPath(outcome.old);
        outcome.old.session.abort();
        return this.install(outcome.peer, path, outcome.vpn, now);
      case 'add_path':
        this.store.addStandby(outcome.peer, path);
        this.attempts.pathEnded(outcome.peer, 'the path became a standby path');
        return;
      case 'upgrade':
        return this.upgrade(outcome.peer, path, outcome.old, now);
      case 'discard':
        this.log.debug('handshake discarded', { remote: path.remoteKey, reason: outcome.reason });
        this.attempts.dropPath(path);
        if (path.peer) this.attempts.pathEnded(path.peer, outcome.reason);
        return;
      case 'conflict': {
        const reason = `VPN IP ${outcome.vpn.text} already belongs to ${outcome.holder.outsideKey}; keeping the first`;
        this.warnings.warn(`conflict:${outcome.vpn.text}:${path.remoteKey}`, 'two members claim one VPN IP', {
          vpnIp: outcome.vpn.text,
          kept: outcome.holder.outsideKey,
          refused: path.remoteKey,
        });
        return this.failPath(path, reason, outcome.staleAt);
      }
      case 'reject':
        this.warnings.warn(`reject:${path.remoteKey}`, 'refused a peer', { remote: path.remoteKey, reason: outcome.reason });
        return this.failPath(path, outcome.reason);
    }
  }

  /** A peer for a server handshake no map told us about: keyed by the address it came from. */
  private adopt(path: Path, now: number): Peer {
    const peer = new Peer(path.remote, 'server', now);
    this.store.peers.set(peer.outsideKey, peer);
    return peer;
  }

  private install(peer: Peer, path: Path, vpn: VpnAddress, now: number): void {
    this.store.activate(peer, path, vpn);
    this.attempts.promote(peer, path);
    const info = path.info;
    peer.kind = info?.peerIsMeshboi ? 'meshboi' : 'original';
    peer.maxPacketBytes = peer.kind === 'original' ? ORIGINAL_MAX_DATAGRAM_BYTES - path.session.recordOverhead : Infinity;
    peer.handshakeAt = now;
    peer.lastAuthenticatedAt = now;
    path.lastAuthenticatedAt = now;
    peer.lastError = null;
    this.log.info('peer established', { vpnIp: vpn.text, endpoint: path.remoteKey, role: path.role, kind: peer.kind });
    // Tells the server side of a same-NAT race which path we chose (it moves on authenticated records).
    if (peer.kind === 'meshboi') {
      path.session.send(EMPTY_RECORD);
      peer.lastSentAt = now;
    }
    this.onInstalled(peer);
    this.attempts.keepTryingDirect(peer);
  }

  /**
   * A better session (direct, or through a relay member in place of a rolodex) replaces the
   * relayed one without a gap: it is active before the relayed one ends, the peer (the server)
   * hears our first record on it and moves too (it keeps the new path as standby until then), and
   * close_notify through the old relay ends the old one on both sides. A pair still relayed goes
   * on trying direct.
   */
  private upgrade(peer: Peer, path: Path, relayed: Path, now: number): void {
    this.store.addStandby(peer, path);
    this.store.roam(peer, path);
    this.attempts.promote(peer, path);
    const message = peer.direct ? 'peer moved from a relay to a direct path' : 'peer moved from the rolodex to a relay member';
    this.log.info(message, { vpnIp: peer.vpn?.text ?? null, endpoint: path.remoteKey });
    path.lastAuthenticatedAt = now;
    path.session.send(EMPTY_RECORD);
    peer.handshakeAt = now;
    peer.lastSentAt = now;
    peer.lastError = null;
    this.store.forgetPath(relayed);
    relayed.session.close();
    this.attempts.keepTryingDirect(peer);
  }

  /** Refuses a completed session; our own peers hear close_notify so they stop using it at once. */
  private failPath(path: Path, reason: string, retryAt: number | null = null): void {
    this.store.forgetPath(path);
    if (path.info?.peerIsMeshboi) path.session.close();
    else path.session.abort();
    const peer = path.peer;
    if (!peer) return;
    peer.lastError = reason;
    this.attempts.pathEnded(peer, reason, retryAt);
  }

  /** The session ended on its own (handshake timeout, alert, close_notify). */
  closed(path: Path, closeReason: CloseReason): void {
    const reason = describeClose(closeReason);
    const peer = path.peer;
    const wasActive = peer?.active === path;
    if (!this.store.forgetPath(path) || !peer) return;
    if (!wasActive) {
      // Silence on every try, not a wrong key (that answers, then fails): say what usually causes it.
      const unheard = path.fed === 0 && path.role === 'client';
      this.attempts.pathEnded(peer, unheard ? `${reason} If it is, ${SYMMETRIC_HINT}.` : reason);
      return;
    }
    const standby = peer.standby.values().next();
    if (!standby.done) {
      this.store.roam(peer, standby.value);
      return;
    }
    this.closePeer(peer, reason, { notify: false, repunch: true });
  }

  /**
   * Ends every session of the peer. close_notify goes only to our own peers: an original peer
   * terminates its whole process on one (see the spec's hazards), so it only ever sees silence.
   * A peer a rolodex still lists is punched again by a new attempt; any other is removed.
   */
  closePeer(peer: Peer, reason: string, policy: ClosePolicy): void {
    if (peer.state === 'closed') return;
    const notify = policy.notify && peer.kind === 'meshboi';
    for (const path of [peer.active, ...peer.standby]) {
      if (!path) continue;
      this.store.forgetPath(path);
      if (notify) path.session.close();
      else path.session.abort();
    }
    this.attempts.retire(peer);
    peer.lastError = reason;
    this.log.info('peer closed', { outside: peer.outsideKey, vpnIp: peer.vpn?.text ?? null, reason });
    if (policy.repunch && !this.stopped && this.isListed(peer)) {
      // The session is gone; a removal waits removeAfterMs from this new try, as for a new peer.
      peer.handshakeAt = null;
      peer.lastAuthenticatedAt = this.clock.now();
      this.attempts.start(peer, 1, this.attempts.repunchDelay());
      return;
    }
    peer.close();
    this.store.removePeer(peer);
  }

  /**
   * A relay was lost: the paths through it end now rather than at dead-peer detection. A peer
   * whose active path it carried moves to a standby path, or punches again (relays and direct).
   */
  relayLost(relayName: string, paths: Path[]): void {
    const reason = `relay ${relayName} lost`;
    for (const path of paths) {
      const peer = path.peer;
      if (peer?.active === path || peer?.standby.has(path)) {
        this.closed(path, { kind: 'local', message: reason });
        path.session.abort();
        continue;
      }
      this.attempts.dropPath(path);
      if (peer) this.attempts.pathEnded(peer, reason);
    }
  }

  /** Ends everything: close_notify to our established peers only; the caller clears the timers. */
  stop(): void {
    this.stopped = true;
    this.attempts.stop();
    for (const peer of [...this.store.peers.values()]) this.closePeer(peer, 'member stopping', { notify: true, repunch: false });
    for (const path of [...this.store.pending.values()]) this.attempts.dropPath(path);
    for (const path of [...this.store.established.values()]) this.attempts.dropPath(path);
  }
}

function describeClose(reason: CloseReason): string {
  switch (reason.kind) {
    case 'close_notify':
      return 'the peer closed the session';
    case 'alert':
      return `alert ${reason.description}: ${reason.message}`;
    case 'handshake_timeout':
    case 'local':
      return reason.message;
  }
}
