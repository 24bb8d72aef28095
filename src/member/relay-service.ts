// The relay side of `--relay` (docs/relays.md): offers itself to the members of its network, answers
// their pings, and forwards frames between those that hold a session with it, within a budget per
// pair, never to an original member and never through another relay.
import type { Clock } from '../clock';
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import { RelayBudget, type RelayCounters, type RelayLimits, type RelayPairStatus } from '../relay/budget';
import { encodeRelayFrame } from '../relay/wire';
import type { Path, Peer } from './peer';
import type { PeerStore } from './peer-store';
import { isRelayed } from './relay-endpoint';

/** What `meshboi status` shows of a relay: what it forwards. */
export interface RelayStatus extends RelayCounters {
  forwarding: RelayPairStatus[];
}

export class RelayService {
  /** The active paths we offered ourselves on, so each hears `offer` once. */
  private readonly offered = new WeakSet<Path>();
  private readonly budget: RelayBudget;

  constructor(
    private readonly store: PeerStore,
    limits: RelayLimits,
    private readonly clock: Clock,
  ) {
    this.budget = new RelayBudget(limits);
  }

  /** Offers ourselves to our direct peers of ours that have not heard it on their current session. */
  offer(): void {
    for (const peer of this.store.peers.values()) {
      const path = peer.active;
      if (path === null || peer.kind !== 'meshboi' || isRelayed(path.remote) || this.offered.has(path)) continue;
      this.offered.add(path);
      path.session.send(encodeRelayFrame({ type: 'offer' }));
    }
  }

  answerPing(path: Path, nonce: number): void {
    path.session.send(encodeRelayFrame({ type: 'pong', nonce }));
  }

  /**
   * A `forward` from `from` on its direct session `path` goes on to `to` if it is one of our own
   * peers with a direct session, not the sender, and the pair is within its budget. The frame out
   * is the one in with the other member's address: never larger than what came in but for the
   * address (an IPv6 sender to an IPv4 one: 12 bytes).
   */
  forward(from: Peer, path: Path, to: Endpoint, payload: Buffer): void {
    // Never a relay of a relay: frames come in, and go out, on direct sessions only.
    if (isRelayed(path.remote)) return;
    const target = this.store.peers.get(formatEndpoint(to));
    if (!target || target === from || target.kind !== 'meshboi' || target.active === null || isRelayed(target.active.remote)) {
      this.budget.noRoute();
      return;
    }
    if (!this.budget.allow(from.outsideKey, target.outsideKey, payload.length, this.clock.now())) return;
    target.active.session.send(encodeRelayFrame({ type: 'deliver', peer: from.outside, payload }));
  }

  status(): RelayStatus {
    return { ...this.budget.counters, refused: { ...this.budget.counters.refused }, forwarding: this.budget.pairStatus() };
  }
}
