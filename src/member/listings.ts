// Takes in the members the rolodexes list: a new one becomes a peer with the role the spec's
// order gives and its first attempt at once; a known one has its LAN endpoints and listing refreshed.
// A full table admits newcomers in turn, in place of peers that never answered, and at once one
// that speaks to us: invented listings never do.
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { RateLimitedLog } from '../log';
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { AttemptManager } from './attempt-manager';
import { Peer } from './peer';
import type { PeerSessions } from './peer-sessions';
import type { PeerStore } from './peer-store';
import type { Listing } from './rolodex-client';
import { roleToward } from './role-order';

export interface ListingTimings {
  /** Peers held at most, so a lying rolodex cannot grow memory without bound. */
  maxPeers: number;
  /**
   * How long a listed peer that never answered keeps its place once the table is full: then the
   * longest-waiting newcomer takes it, so invented listings cannot crowd out members that answer.
   */
  peerTrialMs: number;
}

/** Newcomers waiting for a place, per place in the table: bounds the queue a lying rolodex can grow. */
const WAITING_PER_PLACE = 4;

interface Waiting {
  listing: Listing;
  role: NonNullable<ReturnType<typeof roleToward>>;
  lastListedAt: number;
}

export class Listings {
  private readonly warnings: RateLimitedLog;
  /** Listed members that found the table full, in the order they first came (a Map keeps it). */
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly store: PeerStore,
    private readonly attempts: AttemptManager,
    private readonly sessions: PeerSessions,
    private readonly clock: Clock,
    private readonly timings: ListingTimings,
    private readonly log: Logger,
  ) {
    this.warnings = new RateLimitedLog(log, 60_000);
  }

  /** A map listed a member: a new one starts an attempt at once (or waits its turn), a known one is refreshed. */
  listed(listing: Listing): void {
    if (!this.attempts.running) return;
    const role = roleToward(listing.self, listing.outside);
    if (role === null) return;
    const key = formatEndpoint(listing.outside);
    const peer = this.store.peers.get(key);
    if (peer) {
      this.refresh(peer, listing);
      return;
    }
    if (this.store.peers.size < this.timings.maxPeers) {
      this.admit(key, listing, role);
      return;
    }
    // Admissions first, so the places they free in the queue go to whoever the map names first.
    this.admitWaiting();
    this.wait(key, listing, role);
  }

  private admit(key: string, listing: Listing, role: Waiting['role']): void {
    const peer = new Peer(listing.outside, role, this.clock.now());
    this.store.peers.set(key, peer);
    this.claimedByAnother(listing.outside, key);
    this.refresh(peer, listing);
    this.log.info('new peer', { outside: key, role: peer.role, local: peer.locals.map(formatEndpoint) });
    this.attempts.start(peer);
  }

  private refresh(peer: Peer, listing: Listing): void {
    if (listing.locals) peer.locals = listing.locals;
    if (listing.relayTo) peer.relayedToBy.add(listing.rolodex);
    else peer.relayedToBy.delete(listing.rolodex);
    peer.sameNat = listing.self.address === listing.outside.address;
    peer.lastListedAt = this.clock.now();
    peer.gone = false;
  }

  private wait(key: string, listing: Listing, role: Waiting['role']): void {
    const now = this.clock.now();
    const known = this.waiting.get(key);
    if (known) {
      known.listing = listing;
      known.lastListedAt = now;
    } else if (this.waiting.size < this.timings.maxPeers * WAITING_PER_PLACE) {
      this.waiting.set(key, { listing, role, lastListedAt: now });
    } else {
      this.warnings.warn('max-peers', 'ignoring a listed member: too many peers', { outside: key, maxPeers: this.timings.maxPeers });
    }
  }

  /**
   * A `hello` from `from`, which has no peer: a waiting newcomer that punches toward us is a member
   * that exists, so it takes the place of the peer that has waited longest for an answer, trial
   * over or not. Without this a server newcomer (it only sends `hello`s and waits for our
   * ClientHello) would queue behind every invented listing the map names before it.
   */
  heardFrom(from: Endpoint): boolean {
    const key = formatEndpoint(from);
    const waiting = this.waiting.get(key);
    if (!waiting || waiting.lastListedAt < this.clock.now() - this.timings.peerTrialMs) return false;
    if (!this.evictUnanswered(this.clock.now())) return false;
    this.waiting.delete(key);
    this.admit(key, waiting.listing, waiting.role);
    return true;
  }

  /** Newcomers that are still listed take, oldest first, the places of peers whose trial ran out. */
  private admitWaiting(): void {
    const listedSince = this.clock.now() - this.timings.peerTrialMs;
    for (const [key, waiting] of this.waiting) {
      // Gone from the maps, or became a peer meanwhile (it handshook with us as client).
      if (waiting.lastListedAt < listedSince || this.store.peers.has(key)) {
        this.waiting.delete(key);
        continue;
      }
      if (!this.evictUnanswered(listedSince)) return;
      this.waiting.delete(key);
      this.admit(key, waiting.listing, waiting.role);
    }
  }

  /**
   * Makes room: of the listed peers created before `cutoff` that never completed a handshake (their
   * kind is still unknown), the oldest goes. Peers that answered stay whatever a rolodex lists.
   * False when there is none.
   */
  private evictUnanswered(cutoff: number): boolean {
    let oldest: Peer | null = null;
    for (const candidate of this.store.peers.values()) {
      if (candidate.kind !== 'unknown' || candidate.lastListedAt === null || candidate.state === 'established') continue;
      if (candidate.createdAt > cutoff || (oldest && oldest.createdAt <= candidate.createdAt)) continue;
      oldest = candidate;
    }
    if (!oldest) return false;
    this.sessions.closePeer(oldest, 'made room for another listed member: it never answered', { notify: false, repunch: false });
    return true;
  }

  /**
   * A newly listed outside address on which another peer holds a session: that peer took it as
   * its peer-reflexive candidate before the map named this member (both behind one NAT), so the
   * session is with the wrong entry. Ending it lets both entries connect properly.
   */
  private claimedByAnother(outside: Endpoint, key: string): void {
    const holder = this.store.established.get(outside.address, outside.port)?.peer;
    if (!holder || holder.outsideKey === key) return;
    this.sessions.closePeer(holder, `its session at ${key} was with another member behind the same NAT`, { notify: true, repunch: true });
  }

  gone(outside: Endpoint): void {
    const key = formatEndpoint(outside);
    this.waiting.delete(key);
    const peer = this.store.peers.get(key);
    if (peer) peer.gone = true;
  }
}
