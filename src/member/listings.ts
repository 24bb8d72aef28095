// Takes in the members the rolodexes list: a new one becomes a peer with the role the spec's
// order gives and its first attempt at once; a known one has its LAN endpoints and listing refreshed.
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

export class Listings {
  private readonly warnings: RateLimitedLog;

  constructor(
    private readonly store: PeerStore,
    private readonly attempts: AttemptManager,
    private readonly sessions: PeerSessions,
    private readonly clock: Clock,
    /** Peers held at most, so a lying rolodex cannot grow memory without bound. */
    private readonly maxPeers: number,
    private readonly log: Logger,
  ) {
    this.warnings = new RateLimitedLog(log, 60_000);
  }

  /** A map listed a member: a new one starts an attempt at once, a known one is refreshed. */
  listed(listing: Listing): void {
    if (!this.attempts.running) return;
    const role = roleToward(listing.self, listing.outside);
    if (role === null) return;
    const key = formatEndpoint(listing.outside);
    let peer = this.store.peers.get(key);
    const isNew = !peer;
    if (!peer) {
      if (this.store.peers.size >= this.maxPeers) {
        this.warnings.warn('max-peers', 'ignoring a listed member: too many peers', { outside: key, maxPeers: this.maxPeers });
        return;
      }
      peer = new Peer(listing.outside, role, this.clock.now());
      this.store.peers.set(key, peer);
    }
    if (isNew) this.claimedByAnother(listing.outside, key);
    if (listing.locals) peer.locals = listing.locals;
    peer.sameNat = listing.self.address === listing.outside.address;
    peer.lastListedAt = this.clock.now();
    peer.gone = false;
    if (isNew) {
      this.log.info('new peer', { outside: key, role: peer.role, local: peer.locals.map(formatEndpoint) });
      this.attempts.start(peer);
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
    this.sessions.closePeer(holder, `its session at ${key} was with another member behind the same NAT`, { notify: true, repunch: true });
  }

  gone(outside: Endpoint): void {
    const peer = this.store.peers.get(formatEndpoint(outside));
    if (peer) peer.gone = true;
  }
}
