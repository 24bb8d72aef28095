// Starts, retries and retires the attempts to connect to peers, the one owner of Attempt: each
// round's opening datagram (punch-schedule.ts), the server's `hello` rounds, the client's wait of
// up to 1 s for the peer's first datagram, one handshake per path (outside address, candidates,
// LAN endpoints and relays; first to complete wins), and failed rounds retried with bounded
// backoff. What goes toward an endpoint that never answered is bounded (UnansweredBudget).
import type { Clock } from '../clock';
import type { Role } from '../dtls/index';
import type { Logger } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { Attempt } from './attempt';
import { EndpointMap } from './endpoint-map';
import type { Path, Peer } from './peer';
import type { HandshakeTimings, PathFactory } from './path-factory';
import type { PeerStore } from './peer-store';
import { pathPreference } from './relay-endpoint';
import { retryDelay, type PunchTimings } from './punch-schedule';
import type { TimerSet } from './timers';
import type { UnansweredBudget } from './unanswered-budget';
import { HELLO } from './unsealed-datagrams';

/** Server rounds without a ClientHello before status says why (with the retry backoff, about 6 s). */
const HELLOS_BEFORE_HINT = 3;
/** A retry timed to a conflicting holder's staleness waits this much longer, so the holder surely is stale. */
const STALE_MARGIN_MS = 250;
export const SYMMETRIC_HINT = 'its NAT or ours may be symmetric (address-dependent mapping)';

export interface AttemptTimings extends PunchTimings, HandshakeTimings {
  /** How long a client waits for the peer's first datagram before it starts the handshake (spec: 1 s). */
  helloWaitMs: number;
}

/** What attempts need of the relays (relays.ts): where a peer may be tried through one, and the `punch` toward a relayed peer. */
export interface AttemptRelays {
  endpointsFor(peer: Peer): Endpoint[];
  announcePunch(peer: Peer): void;
}

const NO_RELAYS: AttemptRelays = { endpointsFor: () => [], announcePunch: () => {} };

export class AttemptManager {
  /** Clients waiting for the first datagram from one of a peer's endpoints. */
  private readonly waiters = new EndpointMap<Peer>();
  private stopped = false;

  constructor(
    private readonly store: PeerStore,
    private readonly transport: DatagramTransport,
    private readonly paths: PathFactory,
    /** Shared with the paths' client flights (PathFactory). */
    readonly unanswered: UnansweredBudget,
    private readonly timings: AttemptTimings,
    private readonly timers: TimerSet,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly relays: AttemptRelays = NO_RELAYS,
    /**
     * False when our outside address is our own socket's (no NAT): then there is nothing of ours
     * to open, and an opening hello would only reach the peer's NAT, one router away, before its
     * member opened it, and leave the stray entry it is meant to avoid.
     */
    private readonly behindNat: () => boolean = () => true,
  ) {}

  /** Where a round tries the peer: its direct endpoints, and relays too until it has a session through one. */
  private endpointsOf(peer: Peer): Endpoint[] {
    return peer.relayed ? peer.endpoints() : [...peer.endpoints(), ...this.relays.endpointsFor(peer)];
  }

  /**
   * A peer reached through a relay goes on punching (a new attempt, its rounds on direct endpoints
   * only) until a direct session takes over (PeerStore.resolveRace: `upgrade`). Its first round
   * comes a quiet period later, once the stray entries of the rounds before have expired, and
   * each round tells the peer (a `punch` through the relay), which starts its own at once: both
   * NATs open together, whenever each side learned of the other.
   */
  keepTryingDirect(peer: Peer): void {
    if (this.stopped || !peer.relayed || peer.attempt !== null) return;
    this.start(peer, 1, this.timings.quietMs);
  }

  /** The relayed peer started a direct round (its `punch`): ours now, without telling it back. */
  punchNow(peer: Peer): void {
    if (this.stopped || !peer.relayed) return;
    const attempt = peer.attempt;
    if (attempt === null) {
      this.start(peer, 1, null, false);
      return;
    }
    if (attempt.state !== 'punching') return;
    this.settleTimers(peer, attempt);
    this.startRound(peer, attempt, false);
  }

  /**
   * As client, a handshake through the relayed `endpoint` toward a peer still unreached, or (as the
   * client of its session) one whose session runs through a worse relay: a relay member in place
   * of a rolodex, which replaces it once complete (PeerStore.resolveRace: `upgrade`). Nothing
   * when one is under way there.
   */
  tryThrough(peer: Peer, endpoint: Endpoint): void {
    if (this.stopped || peer.state === 'closed') return;
    const active = peer.active;
    if (active !== null) {
      if (active.role === 'client' && pathPreference(endpoint) > pathPreference(active.remote)) this.startClientPath(peer, endpoint);
      return;
    }
    if (peer.role !== 'client' || peer.attempt === null) return;
    this.startClientPath(peer, endpoint);
  }

  /**
   * A new attempt for `peer`: its first round now, or after `firstRoundInMs` (a re-punch, whose
   * `failures` so far set the backoff). A peer has at most one attempt: a running one is retired.
   */
  start(peer: Peer, failures = 0, firstRoundInMs: number | null = null, announce = true): void {
    if (this.stopped) return;
    if (peer.attempt) this.retire(peer);
    const attempt = new Attempt(this.log, peer.outsideKey, 'punching', failures);
    peer.attempt = attempt;
    if (firstRoundInMs === null) this.startRound(peer, attempt, announce);
    else attempt.timer = this.timers.after(firstRoundInMs, () => this.startRound(peer, attempt));
  }

  /** The backoff before the first round of a re-punch. */
  repunchDelay(): number {
    return this.backoff(1);
  }

  /**
   * Both roles first open our NAT toward every endpoint of the peer (a `hello` whose TTL runs out
   * before the peer's NAT), so the peer's first datagrams find it open and leave no stray entry.
   * Then, the opening wait later, the server sends `hello` to every endpoint, again after a backoff
   * while nobody answers; the client waits for the peer's first datagram, then handshakes.
   */
  private startRound(peer: Peer, attempt: Attempt, announce = true): void {
    attempt.timer = null;
    if (this.stopped || peer.attempt !== attempt || attempt.state !== 'punching') return;
    // The peer moved off its relay meanwhile (the client took our direct path): nothing left to try.
    if (peer.direct) return this.retire(peer);
    if (announce) this.relays.announcePunch(peer);
    const opening = this.timings.openingTtl > 0;
    if (opening && this.behindNat()) {
      for (const endpoint of peer.endpoints()) {
        if (this.unanswered.take(endpoint.address, HELLO.length, false)) this.transport.send(HELLO, endpoint.port, endpoint.address, this.timings.openingTtl);
      }
    }
    if (peer.role === 'server') {
      if (opening) attempt.timer = this.timers.after(this.timings.openingWaitMs, () => this.sendHellos(peer, attempt));
      else this.sendHellos(peer, attempt);
      return;
    }
    attempt.waitingAt = this.endpointsOf(peer);
    for (const endpoint of attempt.waitingAt) this.waiters.set(endpoint, peer);
    const waitMs = opening ? Math.max(this.timings.helloWaitMs, this.timings.openingWaitMs) : this.timings.helloWaitMs;
    attempt.timer = this.timers.after(waitMs, () => this.beginHandshakes(peer));
  }

  private sendHellos(peer: Peer, attempt: Attempt): void {
    attempt.timer = null;
    if (this.stopped || peer.attempt !== attempt || attempt.state !== 'punching') return;
    for (const endpoint of this.endpointsOf(peer)) {
      if (this.unanswered.take(endpoint.address, HELLO.length)) this.transport.send(HELLO, endpoint.port, endpoint.address);
    }
    if (++attempt.unansweredHellos >= HELLOS_BEFORE_HINT) {
      peer.lastError = `no handshake from the peer after ${attempt.unansweredHellos} hellos: ${SYMMETRIC_HINT}, or a firewall drops UDP`;
    }
    attempt.timer = this.timers.after(this.backoff(++attempt.failures, peer), () => this.startRound(peer, attempt));
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
    if (attempt.state !== 'punching' || peer.direct) return;
    attempt.transition('handshaking');
    for (const endpoint of this.endpointsOf(peer)) this.startClientPath(peer, endpoint);
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
    const path = this.paths.create(remote, role, peer);
    this.store.addPending(path);
    return path;
  }

  /** A ClientHello for a peer whose attempt punches: the peer answered, so this round is handshaking now. */
  answered(peer: Peer): void {
    const attempt = peer.attempt;
    if (!attempt) return;
    attempt.unansweredHellos = 0;
    if (attempt.state !== 'punching' || peer.direct) return;
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
    if (attempt.finished || peer.direct) {
      // A replacement that failed, or the leftovers of a finished attempt: the session stands.
      // A look again still due keeps its attempt.
      if (attempt.timer !== null) return;
      peer.attempt = null;
      if (!attempt.finished) attempt.transition('abandoned');
      this.keepTryingDirect(peer);
      return;
    }
    if (attempt.state !== 'handshaking') return;
    attempt.failures++;
    peer.lastError = reason;
    attempt.transition('punching');
    const backoff = this.backoff(attempt.failures, peer);
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
   * An attempt that only waits: after `ms`, `then` runs if it is still the peer's attempt. Holds
   * the peer's one attempt meanwhile, so nothing else starts one (SessionReplacement).
   */
  waitThen(peer: Peer, ms: number, then: () => void): void {
    const waiting = new Attempt(this.log, peer.outsideKey, 'punching', 0);
    peer.attempt = waiting;
    waiting.timer = this.timers.after(ms, () => {
      waiting.timer = null;
      if (peer.attempt === waiting) then();
    });
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

  /**
   * The wait before the next round: a jittered backoff, then the quiet grid (punch-schedule.ts);
   * toward a relayed peer at least a quiet period, as its rounds are started together (`punch`).
   */
  private backoff(failures: number, peer: Peer | null = null): number {
    const delay = retryDelay(failures, this.clock.now(), this.timings);
    return peer?.relayed ? Math.max(this.timings.quietMs, delay) : delay;
  }

  /** Cancels the attempt's timer and its hello wait. */
  private settleTimers(peer: Peer, attempt: Attempt): void {
    this.timers.cancel(attempt.timer);
    attempt.timer = null;
    if (!attempt.waitingAt) return;
    for (const endpoint of attempt.waitingAt) this.waiters.delete(endpoint, peer);
    attempt.waitingAt = null;
  }
}
