// Turns listed members into DTLS sessions: role by outside-address ordering, the server's
// `hello`, the client's wait of up to 1 s, one handshake per path (outside address and LAN
// endpoints, first to complete wins), every peer at once, failed rounds retried with bounded
// backoff; and carries out what PeerStore.resolveRace decides.
import { CookieGate, DtlsSession, looksLikeClientHello } from '../dtls/index';
import type { CipherSuiteId, CloseReason, HandshakeInfo, Role } from '../dtls/index';
import type { Logger } from '../log';
import { RateLimitedLog } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import { compareEndpoints } from '../rolodex-wire';
import { EndpointMap } from './endpoint-map';
import { Path, Peer } from './peer';
import type { PeerStore } from './peer-store';
import type { Listing } from './rolodex-client';
import type { TimerSet } from './timers';
import { HELLO, isHello, ORIGINAL_MAX_DATAGRAM_BYTES } from './unsealed-datagrams';
import type { VpnAddress } from './vpn-address';

/** A zero-length application_data record: the keepalive only our own peers may receive. */
export const EMPTY_RECORD = Buffer.alloc(0);

const HANDSHAKE = 22;
const CHANGE_CIPHER_SPEC = 20;
/** Peer-reflexive candidates kept per peer: a symmetric NAT needs one, the rest is slack against spoofed ports. */
const MAX_CANDIDATES = 4;
/** Server rounds without a ClientHello before status says why (with the retry backoff, about 6 s). */
const HELLOS_BEFORE_HINT = 3;
/** A retry timed to a conflicting holder's staleness waits this much longer, so the holder surely is stale. */
const STALE_MARGIN_MS = 250;
const SYMMETRIC_HINT = 'its NAT or ours may be symmetric (address-dependent mapping)';

export interface ConnectorTimings {
  /** How long a client waits for the peer's first datagram before it starts the handshake (spec: 1 s). */
  helloWaitMs: number;
  /** Delay before the first retry of a failed round; doubles per failure, jittered. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** DTLS flight retransmission: first timeout, and tries before a handshake fails. */
  handshakeRetransmitMs: number;
  handshakeMaxTries: number;
  /** Peers held at most, so a lying rolodex cannot grow memory without bound. */
  maxPeers: number;
  /**
   * The keepalive interval: a `hello` from an established peer starts a new handshake only once
   * the peer has been quiet for two of them (a live one of ours never is), so a forged `hello`
   * cannot keep us re-handshaking.
   */
  keepaliveMs: number;
}

export interface Credentials {
  psk: Buffer;
  vpn: VpnAddress;
  cipherSuites?: readonly CipherSuiteId[];
  announceMeshboi?: boolean;
}

/** Member-wide drops on the slow path. */
export interface ConnectorDrops {
  /** A datagram from an address with no session that is not a ClientHello (the spec drops these). */
  unknown_source: number;
  /** A ClientHello the cookie gate refused (malformed, or a bad cookie). */
  bad_client_hello: number;
  /** A valid ClientHello set aside (a handshake with that address under way, or too many pending). */
  handshake_ignored: number;
}

export interface ClosePolicy {
  /** Send close_notify on established sessions; only ever honoured for our own peers. */
  notify: boolean;
  /** Punch again if a rolodex still lists the peer. */
  repunch: boolean;
}

export class Connector {
  readonly drops: ConnectorDrops = { unknown_source: 0, bad_client_hello: 0, handshake_ignored: 0 };
  /** Clients waiting for the first datagram from one of a peer's endpoints. */
  private readonly waiters = new EndpointMap<Peer>();
  private readonly gate = new CookieGate();
  private readonly warnings: RateLimitedLog;
  private stopped = false;

  constructor(
    private readonly store: PeerStore,
    private readonly transport: DatagramTransport,
    private readonly credentials: Credentials,
    private readonly timings: ConnectorTimings,
    private readonly timers: TimerSet,
    private readonly onData: (path: Path, plaintext: Buffer) => void,
    private readonly isListed: (peer: Peer) => boolean,
    private readonly log: Logger,
  ) {
    this.warnings = new RateLimitedLog(log, 60_000);
  }

  // -------------------------------------------------------------------------------------------
  // Peers from the rolodexes.

  /** A map listed a member: a new one starts a punching round at once, a known one is refreshed. */
  listed(listing: Listing): void {
    if (this.stopped) return;
    const order = compareEndpoints(listing.self, listing.outside);
    if (order === 0) return;
    const key = formatEndpoint(listing.outside);
    let peer = this.store.peers.get(key);
    const isNew = !peer;
    if (!peer) {
      if (this.store.peers.size >= this.timings.maxPeers) {
        this.warnings.warn('max-peers', 'ignoring a listed member: too many peers', { outside: key, maxPeers: this.timings.maxPeers });
        return;
      }
      peer = new Peer(listing.outside, order > 0 ? 'server' : 'client', this.log, Date.now());
      this.store.peers.set(key, peer);
    }
    if (isNew) this.claimedByAnother(listing.outside, key);
    if (listing.locals) peer.locals = listing.locals;
    peer.sameNat = listing.self.address === listing.outside.address;
    peer.lastListedAt = Date.now();
    peer.gone = false;
    if (isNew) {
      this.log.info('new peer', { outside: key, role: peer.role, local: peer.locals.map(formatEndpoint) });
      this.startRound(peer);
    }
  }

  /**
   * A newly listed outside address on which another peer holds a session: that peer took it as
   * its peer-reflexive candidate before the map named this member (both behind one NAT), so the
   * session is with the wrong entry. Ending it lets both entries connect properly.
   */
  private claimedByAnother(outside: Endpoint, key: string): void {
    const holder = this.store.established.get(outside.address, outside.port)?.peer;
    if (!holder || holder.outsideKey === key) return;
    this.closePeer(holder, `its session at ${key} was with another member behind the same NAT`, { notify: true, repunch: true });
  }

  gone(outside: Endpoint): void {
    const peer = this.store.peers.get(formatEndpoint(outside));
    if (peer) peer.gone = true;
  }

  // -------------------------------------------------------------------------------------------
  // Rounds: punch, handshake, retry.

  /** Server: `hello` to every endpoint, again after a backoff while nobody answers. Client: wait, then handshake. */
  private startRound(peer: Peer): void {
    peer.timer = null;
    if (this.stopped || peer.state !== 'punching') return;
    if (peer.role === 'server') {
      for (const endpoint of peer.endpoints()) this.transport.send(HELLO, endpoint.port, endpoint.address);
      if (++peer.unansweredHellos >= HELLOS_BEFORE_HINT) {
        peer.lastError = `no handshake from the peer after ${peer.unansweredHellos} hellos: ${SYMMETRIC_HINT}, or a firewall drops UDP`;
      }
      peer.timer = this.timers.after(this.backoff(++peer.failures), () => this.startRound(peer));
      return;
    }
    peer.waitingAt = peer.endpoints();
    for (const endpoint of peer.waitingAt) this.waiters.set(endpoint, peer);
    peer.timer = this.timers.after(this.timings.helloWaitMs, () => this.beginHandshakes(peer));
  }

  /** The client's wait is over (a datagram came, or the time ran out): a handshake on every free path. */
  private beginHandshakes(peer: Peer): void {
    this.settleTimers(peer);
    if (peer.state !== 'punching') return;
    peer.machine.transition('handshaking');
    for (const endpoint of peer.endpoints()) this.startClientPath(peer, endpoint);
    if (peer.attempts.size === 0) this.roundFailed(peer, 'every endpoint of this peer is busy with another session');
  }

  /** A client handshake toward one endpoint of the peer, unless a session there exists or is under way. */
  private startClientPath(peer: Peer, endpoint: Endpoint): void {
    if (this.store.pending.get(endpoint.address, endpoint.port) || this.store.established.get(endpoint.address, endpoint.port)) return;
    const path = this.createPath(endpoint, 'client', peer);
    this.store.addPending(path);
    path.session.start();
  }

  /** Back to punching after a failed round; the retry comes after the backoff, or at `retryAt` if sooner. */
  private roundFailed(peer: Peer, reason: string, retryAt: number | null = null): void {
    if (peer.state !== 'handshaking' || peer.attempts.size > 0) return;
    peer.failures++;
    peer.lastError = reason;
    peer.machine.transition('punching');
    const backoff = this.backoff(peer.failures);
    const delay = retryAt === null ? backoff : Math.min(backoff, Math.max(0, retryAt - Date.now()) + STALE_MARGIN_MS);
    this.log.debug('handshake round failed; retrying', { outside: peer.outsideKey, reason, retryInMs: delay });
    peer.timer = this.timers.after(delay, () => this.startRound(peer));
  }

  /** Exponential in the number of failures, capped, with ±25% jitter so two racing sides drift apart. */
  private backoff(failures: number): number {
    const base = Math.min(this.timings.retryMaxMs, this.timings.retryInitialMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** Cancels the peer's wait or retry timer and its hello wait. */
  private settleTimers(peer: Peer): void {
    this.timers.cancel(peer.timer);
    peer.timer = null;
    if (!peer.waitingAt) return;
    for (const endpoint of peer.waitingAt) this.waiters.delete(endpoint, peer);
    peer.waitingAt = null;
  }

  private createPath(remote: Endpoint, role: Role, peer: Peer | null): Path {
    const { psk, vpn, cipherSuites, announceMeshboi } = this.credentials;
    const transport = this.transport;
    const session = new DtlsSession(
      {
        role,
        psk,
        identity: vpn.text,
        cipherSuites,
        announceMeshboi,
        send: (datagram) => transport.send(datagram, remote.port, remote.address),
        retransmitInitialMs: this.timings.handshakeRetransmitMs,
        retransmitMaxTries: this.timings.handshakeMaxTries,
      },
      {
        onHandshakeComplete: (info) => this.handshakeComplete(path, info),
        onData: (plaintext) => this.onData(path, plaintext),
        onClose: (reason) => this.pathClosed(path, describeClose(reason)),
      },
    );
    const path: Path = new Path(remote, role, session, peer);
    return path;
  }

  // -------------------------------------------------------------------------------------------
  // The slow path of received datagrams.

  /** Every datagram that is not application data on an established session (see outside.ts). */
  receive(data: Buffer, from: Endpoint, established: Path | undefined): void {
    if (established) {
      const replacement = this.store.pending.get(from.address, from.port);
      if (replacement && (data[0] === HANDSHAKE || data[0] === CHANGE_CIPHER_SPEC)) return this.feed(replacement, data);
      if (looksLikeClientHello(data)) return this.clientHello(data, from);
      if (isHello(data)) return this.peerPunching(established);
      established.session.handleDatagram(data);
      return;
    }
    const pending = this.store.pending.get(from.address, from.port);
    if (pending) {
      if (pending.role === 'client' && looksLikeClientHello(data)) return this.clientHello(data, from);
      return this.feed(pending, data);
    }
    if (looksLikeClientHello(data)) return this.clientHello(data, from);
    const waiting = this.waiters.get(from.address, from.port);
    if (waiting) return this.beginHandshakes(waiting);
    if (isHello(data) && this.strayHello(from)) return;
    this.drops.unknown_source++;
  }

  /**
   * A `hello` from an address with no session where no client waits; true if it was used.
   * - From a peer's own outside address while our retry waits: it is punching now (it restarted,
   *   or it retries after we refused it), so the round starts at once instead of after the backoff.
   * - From an unknown port on the IP of the one peer we are connecting to: its NAT maps per
   *   destination, so this port, not the one the rolodex saw, leads to it. It becomes a candidate
   *   endpoint and we handshake on it at once. The datagram proves nothing, so it touches no
   *   established session, and at most one candidate per hello wait (four per peer) is taken:
   *   a flood of `hello` from spoofed ports cannot make us a handshake amplifier.
   */
  private strayHello(from: Endpoint): boolean {
    const now = Date.now();
    const known = this.store.peers.get(formatEndpoint(from));
    if (known) {
      if (known.role !== 'client' || known.state !== 'punching' || now - known.lastTriggeredAt < this.timings.helloWaitMs) return false;
      known.lastTriggeredAt = now;
      this.beginHandshakes(known);
      return true;
    }
    const peer = this.store.reflexiveOwner(from.address);
    if (!peer || peer.role !== 'client' || !peer.addCandidate(from, now, this.timings.helloWaitMs, MAX_CANDIDATES)) return false;
    this.log.debug('peer-reflexive candidate', { outside: peer.outsideKey, candidate: formatEndpoint(from) });
    if (peer.state === 'punching') this.beginHandshakes(peer);
    else this.startClientPath(peer, from);
    return true;
  }

  private feed(path: Path, data: Buffer): void {
    path.fed++;
    path.session.handleDatagram(data);
  }

  /**
   * A `hello` from a peer we hold a session with: as server it is punching towards us again, so
   * it lost our session (a restart on the same address), and it has stopped answering our
   * keepalives. As its client we start a handshake beside the old session, which resolveRace
   * replaces once the new one completes; the old one is untouched if the hello was forged.
   * Until the peer has missed two keepalives (a live one of ours never does) we only look again
   * at that moment, once (the peer's one timer), rather than at its next `hello`, which its
   * retry backoff may hold back for half a minute.
   */
  private peerPunching(established: Path, lookAgain = true): void {
    const peer = established.peer;
    if (!peer || established.role !== 'client' || peer.attempts.size > 0 || this.stopped) return;
    const now = Date.now();
    const quietEnoughAt = peer.lastAuthenticatedAt + 2 * this.timings.keepaliveMs;
    if (now < quietEnoughAt) {
      if (lookAgain && peer.timer === null) peer.timer = this.timers.after(quietEnoughAt - now, () => this.lookAgain(peer, established));
      return;
    }
    const path = this.createPath(established.remote, 'client', peer);
    this.store.addPending(path);
    path.session.start();
  }

  private lookAgain(peer: Peer, established: Path): void {
    peer.timer = null;
    if (this.store.established.get(established.remote.address, established.remote.port) === established) this.peerPunching(established, false);
  }

  private clientHello(data: Buffer, from: Endpoint): void {
    const verdict = this.gate.check(data, formatEndpoint(from));
    if (verdict.action === 'reply') {
      this.transport.send(verdict.datagram, from.port, from.address);
      return;
    }
    if (verdict.action === 'drop') {
      this.drops.bad_client_hello++;
      return;
    }
    const outcome = this.store.resolveRace({ kind: 'client_hello', remote: from }, Date.now());
    switch (outcome.action) {
      case 'ignore':
        this.drops.handshake_ignored++;
        return;
      case 'yield':
        this.log.debug('both sides started as client; answering theirs', { remote: outcome.path.remoteKey });
        this.dropPath(outcome.path);
        return this.accept(from, outcome.path.peer, data);
      case 'accept':
      case 'accept_replacement':
        return this.accept(from, outcome.peer, data);
    }
  }

  private accept(remote: Endpoint, peer: Peer | null, clientHello: Buffer): void {
    if (this.stopped) return;
    const path = this.createPath(remote, 'server', peer);
    this.store.addPending(path);
    if (peer) {
      peer.unansweredHellos = 0;
      // The cookie showed the source is real; a port the rolodex never saw is the peer's NAT mapping toward us.
      peer.addCandidate(remote, Date.now(), 0, MAX_CANDIDATES);
    }
    if (peer?.state === 'punching') {
      this.settleTimers(peer);
      peer.machine.transition('handshaking');
    }
    this.feed(path, clientHello);
  }

  // -------------------------------------------------------------------------------------------
  // Session events.

  private handshakeComplete(path: Path, info: HandshakeInfo): void {
    path.info = info;
    const now = Date.now();
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
        return;
      case 'discard':
        this.log.debug('handshake discarded', { remote: path.remoteKey, reason: outcome.reason });
        this.dropPath(path);
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
    const peer = new Peer(path.remote, 'server', this.log, now);
    this.store.peers.set(peer.outsideKey, peer);
    peer.machine.transition('handshaking');
    return peer;
  }

  private install(peer: Peer, path: Path, vpn: VpnAddress, now: number): void {
    this.settleTimers(peer);
    this.store.activate(peer, path, vpn);
    if (peer.state === 'punching') peer.machine.transition('handshaking');
    if (peer.state === 'handshaking') peer.machine.transition('established');
    const info = path.info;
    peer.kind = info?.peerIsMeshboi ? 'meshboi' : 'original';
    peer.maxPacketBytes = peer.kind === 'original' ? ORIGINAL_MAX_DATAGRAM_BYTES - path.session.recordOverhead : Infinity;
    peer.handshakeAt = now;
    peer.lastAuthenticatedAt = now;
    path.lastAuthenticatedAt = now;
    peer.failures = 0;
    peer.lastError = null;
    if (path.role === 'client') for (const other of [...peer.attempts]) this.dropPath(other);
    this.log.info('peer established', { vpnIp: vpn.text, endpoint: path.remoteKey, role: path.role, kind: peer.kind });
    // Tells the server side of a same-NAT race which path we chose (it moves on authenticated records).
    if (peer.kind === 'meshboi') {
      path.session.send(EMPTY_RECORD);
      peer.lastSentAt = now;
    }
  }

  /** Aborts a path we no longer want: nothing is sent, so this is safe towards any peer. */
  dropPath(path: Path): void {
    this.store.forgetPath(path);
    path.session.abort();
  }

  /** Refuses a completed session; our own peers hear close_notify so they stop using it at once. */
  private failPath(path: Path, reason: string, retryAt: number | null = null): void {
    this.store.forgetPath(path);
    if (path.info?.peerIsMeshboi) path.session.close();
    else path.session.abort();
    const peer = path.peer;
    if (!peer) return;
    peer.lastError = reason;
    this.roundFailed(peer, reason, retryAt);
  }

  /** The session ended on its own (handshake timeout, alert, close_notify). */
  private pathClosed(path: Path, reason: string): void {
    const peer = path.peer;
    const wasActive = peer?.active === path;
    if (!this.store.forgetPath(path) || !peer) return;
    if (!wasActive) {
      // Silence on every try, not a wrong key (that answers, then fails): say what usually causes it.
      const unheard = path.fed === 0 && path.role === 'client';
      if (peer.state === 'handshaking') this.roundFailed(peer, unheard ? `${reason} If it is, ${SYMMETRIC_HINT}.` : reason);
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
   */
  closePeer(peer: Peer, reason: string, policy: ClosePolicy): void {
    if (peer.state === 'closed') return;
    this.settleTimers(peer);
    const notify = policy.notify && peer.kind === 'meshboi';
    for (const path of [peer.active, ...peer.standby]) {
      if (!path) continue;
      this.store.forgetPath(path);
      if (notify) path.session.close();
      else path.session.abort();
    }
    for (const path of [...peer.attempts]) this.dropPath(path);
    peer.machine.transition('closed');
    peer.lastError = reason;
    this.log.info('peer closed', { outside: peer.outsideKey, vpnIp: peer.vpn?.text ?? null, reason });
    if (policy.repunch && !this.stopped && this.isListed(peer)) {
      const next = new Peer(peer.outside, peer.role, this.log, Date.now());
      next.locals = peer.locals;
      next.candidates.push(...peer.candidates);
      next.sameNat = peer.sameNat;
      next.lastListedAt = peer.lastListedAt;
      next.inheritCounters(peer);
      next.failures = 1;
      next.lastError = reason;
      this.store.succeed(peer, next);
      next.timer = this.timers.after(this.backoff(1), () => this.startRound(next));
      return;
    }
    this.store.removePeer(peer);
  }

  /** Ends everything: close_notify to our established peers only; the caller clears the timers. */
  stop(): void {
    this.stopped = true;
    for (const peer of [...this.store.peers.values()]) this.closePeer(peer, 'member stopping', { notify: true, repunch: false });
    for (const path of [...this.store.pending.values()]) this.dropPath(path);
    for (const path of [...this.store.established.values()]) this.dropPath(path);
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
