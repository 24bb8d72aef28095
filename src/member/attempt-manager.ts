// Starts, retries and retires the attempts to connect to peers, the one owner of Attempt: the
// server's `hello` rounds, the client's wait of up to 1 s for the peer's first datagram, one
// handshake per path (outside address, candidates and LAN endpoints; first to complete wins),
// failed rounds retried with bounded backoff, and the replacement handshake of a restarted peer.
// What goes toward an endpoint that never answered is bounded (UnansweredBudget).
import type { Clock } from '../clock';
import { DtlsSession, type CipherSuiteId, type CloseReason, type HandshakeInfo, type Role } from '../dtls/index';
import type { Logger } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { Attempt } from './attempt';
import type { BlindNetwork } from './blind-network';
import { EndpointMap } from './endpoint-map';
import { Path, type Peer } from './peer';
import type { PeerStore } from './peer-store';
import type { TimerSet } from './timers';
import { UnansweredBudget } from './unanswered-budget';
import { HELLO } from './unsealed-datagrams';
import type { VpnAddress } from './vpn-address';

/** Server rounds without a ClientHello before status says why (with the retry backoff, about 6 s). */
const HELLOS_BEFORE_HINT = 3;
/** A retry timed to a conflicting holder's staleness waits this much longer, so the holder surely is stale. */
const STALE_MARGIN_MS = 250;
export const SYMMETRIC_HINT = 'its NAT or ours may be symmetric (address-dependent mapping)';

export interface AttemptTimings {
  /** How long a client waits for the peer's first datagram before it starts the handshake (spec: 1 s). */
  helloWaitMs: number;
  /** Delay before the first retry of a failed round; doubles per failure, jittered. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** DTLS flight retransmission: first timeout, and tries before a handshake fails. */
  handshakeRetransmitMs: number;
  handshakeMaxTries: number;
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
  /** A blind network: our server's identity hint is our VPN IP sealed, and a server's hint must open. */
  blind?: BlindNetwork | null;
}

/** The identity of a server whose hint did not open: resolveRace refuses it, saying so. */
const UNSEALED_HINT = 'a hint not sealed for this blind network (is the peer run without --blind?)';

/** What the sessions of our paths report; PeerSessions acts on it. */
export interface PathEvents {
  handshakeComplete(path: Path, info: HandshakeInfo): void;
  data(path: Path, plaintext: Buffer): void;
  closed(path: Path, reason: CloseReason): void;
}

export class AttemptManager {
  /** Clients waiting for the first datagram from one of a peer's endpoints. */
  private readonly waiters = new EndpointMap<Peer>();
  private stopped = false;
  readonly unanswered: UnansweredBudget;

  constructor(
    private readonly store: PeerStore,
    private readonly transport: DatagramTransport,
    private readonly credentials: Credentials,
    private readonly timings: AttemptTimings,
    private readonly timers: TimerSet,
    private readonly clock: Clock,
    private readonly events: PathEvents,
    private readonly log: Logger,
  ) {
    this.unanswered = new UnansweredBudget(clock);
  }

  /**
   * A new attempt for `peer`: its first round now, or after `firstRoundInMs` (a re-punch, whose
   * `failures` so far set the backoff). A peer has at most one attempt: a running one is retired.
   */
  start(peer: Peer, failures = 0, firstRoundInMs: number | null = null): void {
    if (this.stopped) return;
    if (peer.attempt) this.retire(peer);
    const attempt = new Attempt(this.log, peer.outsideKey, 'punching', failures);
    peer.attempt = attempt;
    if (firstRoundInMs === null) this.startRound(peer, attempt);
    else attempt.timer = this.timers.after(firstRoundInMs, () => this.startRound(peer, attempt));
  }

  /** The backoff before the first round of a re-punch. */
  repunchDelay(): number {
    return this.backoff(1);
  }

  /** Server: `hello` to every endpoint, again after a backoff while nobody answers. Client: wait, then handshake. */
  private startRound(peer: Peer, attempt: Attempt): void {
    attempt.timer = null;
    if (this.stopped || peer.attempt !== attempt || attempt.state !== 'punching') return;
    if (peer.role === 'server') {
      for (const endpoint of peer.endpoints()) {
        if (this.unanswered.take(endpoint.address, HELLO.length)) this.transport.send(HELLO, endpoint.port, endpoint.address);
      }
      if (++attempt.unansweredHellos >= HELLOS_BEFORE_HINT) {
        peer.lastError = `no handshake from the peer after ${attempt.unansweredHellos} hellos: ${SYMMETRIC_HINT}, or a firewall drops UDP`;
      }
      attempt.timer = this.timers.after(this.backoff(++attempt.failures), () => this.startRound(peer, attempt));
      return;
    }
    attempt.waitingAt = peer.endpoints();
    for (const endpoint of attempt.waitingAt) this.waiters.set(endpoint, peer);
    attempt.timer = this.timers.after(this.timings.helloWaitMs, () => this.beginHandshakes(peer));
  }

  /** The client waiting on `address:port` for its peer's first datagram, if any. */
  waiterAt(address: string, port: number): Peer | undefined {
    return this.waiters.get(address, port);
  }

  /** The client's wait is over (a datagram came, or the time ran out): a handshake on every free path. */
  beginHandshakes(peer: Peer): void {
    const attempt = peer.attempt;
    if (!attempt) return;
    this.settleTimers(peer, attempt);
    if (attempt.state !== 'punching' || peer.active) return;
    attempt.transition('handshaking');
    for (const endpoint of peer.endpoints()) this.startClientPath(peer, endpoint);
    if (attempt.paths.size === 0) this.pathEnded(peer, 'every endpoint of this peer is busy with another session');
  }

  /** A client handshake toward one endpoint of the peer, unless a session there exists or is under way. */
  startClientPath(peer: Peer, endpoint: Endpoint): void {
    if (this.store.pending.get(endpoint.address, endpoint.port) || this.store.established.get(endpoint.address, endpoint.port)) return;
    this.openPath(endpoint, 'client', peer).session.start();
  }

  /**
   * A pending handshake with `remote`, listed in the stores and in the peer's attempt; a peer
   * without one (established, its session being replaced) gets one that starts handshaking.
   */
  openPath(remote: Endpoint, role: Role, peer: Peer | null): Path {
    if (peer && !peer.attempt) peer.attempt = new Attempt(this.log, peer.outsideKey, 'handshaking', 0);
    const path = this.createPath(remote, role, peer);
    this.store.addPending(path);
    return path;
  }

  /** A ClientHello for a peer whose attempt punches: the peer answered, so this round is handshaking now. */
  answered(peer: Peer): void {
    const attempt = peer.attempt;
    if (!attempt) return;
    attempt.unansweredHellos = 0;
    if (attempt.state !== 'punching' || peer.active) return;
    this.settleTimers(peer, attempt);
    attempt.transition('handshaking');
  }

  /**
   * A pending path of the peer ended (failed, refused, discarded, or became a standby path). Once
   * none is left the round has failed: back to punching, the retry after the backoff or at
   * `retryAt` if sooner. An attempt beside an established session just ends.
   */
  pathEnded(peer: Peer, reason: string, retryAt: number | null = null): void {
    const attempt = peer.attempt;
    if (!attempt || attempt.paths.size > 0) return;
    if (attempt.finished || peer.active) {
      // A replacement that failed, or the leftovers of a finished attempt: the session stands.
      // A look again still due keeps its attempt.
      if (attempt.timer !== null) return;
      peer.attempt = null;
      if (!attempt.finished) attempt.transition('abandoned');
      return;
    }
    if (attempt.state !== 'handshaking') return;
    attempt.failures++;
    peer.lastError = reason;
    attempt.transition('punching');
    const backoff = this.backoff(attempt.failures);
    const delay = retryAt === null ? backoff : Math.min(backoff, Math.max(0, retryAt - this.clock.now()) + STALE_MARGIN_MS);
    this.log.debug('handshake round failed; retrying', { outside: peer.outsideKey, reason, retryInMs: delay });
    attempt.timer = this.timers.after(delay, () => this.startRound(peer, attempt));
  }

  /**
   * `path` of the peer was installed: its attempt succeeded. A client's other handshakes lose the
   * race and end; a server's go on (the peer chose among them) and may become standby paths, so
   * the attempt stays the peer's until the last of them ends.
   */
  promote(peer: Peer, path: Path): void {
    const attempt = peer.attempt;
    if (!attempt) return;
    this.settleTimers(peer, attempt);
    if (attempt.state === 'punching') attempt.transition('handshaking');
    if (attempt.state === 'handshaking') attempt.transition('established');
    if (path.role === 'client') for (const other of [...attempt.paths]) this.dropPath(other);
    if (attempt.paths.size === 0) peer.attempt = null;
  }

  /** Ends the peer's attempt: timers cancelled, handshakes aborted (nothing sent, so safe toward any peer). */
  retire(peer: Peer): void {
    const attempt = peer.attempt;
    if (!attempt) return;
    this.settleTimers(peer, attempt);
    for (const path of [...attempt.paths]) this.dropPath(path);
    peer.attempt = null;
    if (!attempt.finished) attempt.transition('abandoned');
  }

  /**
   * A `hello` from a peer we hold a session with: as server it is punching towards us again, so
   * it lost our session (a restart on the same address), and it has stopped answering our
   * keepalives. As its client we start a handshake beside the old session, which resolveRace
   * replaces once the new one completes; the old one is untouched if the hello was forged.
   * Until the peer has missed two keepalives (a live one of ours never does) we only look again
   * at that moment, once (the attempt's one timer), rather than at its next `hello`, which its
   * retry backoff may hold back for half a minute.
   */
  replaceSession(established: Path, lookAgain = true): void {
    const peer = established.peer;
    if (!peer || established.role !== 'client' || this.stopped) return;
    const attempt = peer.attempt;
    if (attempt && attempt.paths.size > 0) return;
    const now = this.clock.now();
    const quietEnoughAt = peer.lastAuthenticatedAt + 2 * this.timings.keepaliveMs;
    if (now < quietEnoughAt) {
      if (!lookAgain) return this.retire(peer);
      if (attempt) return;
      const waiting = new Attempt(this.log, peer.outsideKey, 'punching', 0);
      peer.attempt = waiting;
      waiting.timer = this.timers.after(quietEnoughAt - now, () => this.lookAgain(peer, waiting, established));
      return;
    }
    if (attempt) this.retire(peer);
    this.openPath(established.remote, 'client', peer).session.start();
  }

  private lookAgain(peer: Peer, attempt: Attempt, established: Path): void {
    attempt.timer = null;
    if (peer.attempt !== attempt) return;
    if (this.store.established.get(established.remote.address, established.remote.port) === established) this.replaceSession(established, false);
    else this.retire(peer);
  }

  /** Aborts a path we no longer want: nothing is sent, so this is safe towards any peer. */
  dropPath(path: Path): void {
    this.store.forgetPath(path);
    path.session.abort();
  }

  /** No attempt starts or retries from now on; the caller clears the timers. */
  stop(): void {
    this.stopped = true;
  }

  /** False once the member is stopping: nothing new may start. */
  get running(): boolean {
    return !this.stopped;
  }

  /** Exponential in the number of failures, capped, with ±25% jitter so two racing sides drift apart. */
  private backoff(failures: number): number {
    const base = Math.min(this.timings.retryMaxMs, this.timings.retryInitialMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** Cancels the attempt's timer and its hello wait. */
  private settleTimers(peer: Peer, attempt: Attempt): void {
    this.timers.cancel(attempt.timer);
    attempt.timer = null;
    if (!attempt.waitingAt) return;
    for (const endpoint of attempt.waitingAt) this.waiters.delete(endpoint, peer);
    attempt.waitingAt = null;
  }

  private createPath(remote: Endpoint, role: Role, peer: Peer | null): Path {
    const { psk, vpn, cipherSuites, announceMeshboi, blind } = this.credentials;
    const transport = this.transport;
    const events = this.events;
    const unanswered = this.unanswered;
    const session = new DtlsSession(
      {
        role,
        psk,
        identity: blind && role === 'server' ? blind.sealHint(vpn.text) : vpn.text,
        cipherSuites,
        announceMeshboi,
        // A server path answers a ClientHello whose cookie proved its source; a client's flights
        // are bounded until the peer has sent anything back.
        send: (datagram) => {
          if (role === 'client' && path.fed === 0 && !unanswered.take(remote.address, datagram.length)) return;
          transport.send(datagram, remote.port, remote.address);
        },
        retransmitInitialMs: this.timings.handshakeRetransmitMs,
        retransmitMaxTries: this.timings.handshakeMaxTries,
        clock: this.clock,
      },
      {
        onHandshakeComplete: (info) =>
          events.handshakeComplete(path, blind && role === 'client' ? { ...info, peerIdentity: blind.openHint(info.peerIdentity) ?? UNSEALED_HINT } : info),
        onData: (plaintext) => events.data(path, plaintext),
        onClose: (reason) => events.closed(path, reason),
      },
    );
    const path: Path = new Path(remote, role, session, peer, this.clock.now());
    return path;
  }
}
