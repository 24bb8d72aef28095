// Peer-reflexive candidates (as in ICE): a peer behind a symmetric NAT reaches us from a port the
// rolodex never saw, a new one per destination. A `hello` or a ClientHello from such a port of the
// IP of a peer we are connecting to makes it a candidate endpoint of that peer, under limits that
// keep spoofed datagrams from making us a handshake amplifier.
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { AttemptManager } from './attempt-manager';
import type { Peer } from './peer';
import type { PeerStore } from './peer-store';

/** Peer-reflexive candidates kept per peer: a symmetric NAT needs one, the rest is slack against spoofed ports. */
const MAX_CANDIDATES = 4;

export class ReflexiveCandidates {
  constructor(
    private readonly store: PeerStore,
    private readonly attempts: AttemptManager,
    private readonly clock: Clock,
    /** The client's hello wait: at most one candidate, and one cut-short retry, per wait. */
    private readonly helloWaitMs: number,
    private readonly log: Logger,
  ) {}

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
  strayHello(from: Endpoint): boolean {
    const now = this.clock.now();
    const known = this.store.peers.get(formatEndpoint(from));
    if (known) {
      const attempt = known.attempt;
      if (known.role !== 'client' || known.state !== 'punching' || !attempt || now - attempt.lastTriggeredAt < this.helloWaitMs) return false;
      attempt.lastTriggeredAt = now;
      this.attempts.beginHandshakes(known);
      return true;
    }
    const peer = this.store.reflexiveOwner(from.address);
    if (!peer || peer.role !== 'client' || !peer.addCandidate(from, now, this.helloWaitMs, MAX_CANDIDATES)) return false;
    this.log.debug('peer-reflexive candidate', { outside: peer.outsideKey, candidate: formatEndpoint(from) });
    if (peer.state === 'punching') this.attempts.beginHandshakes(peer);
    else this.attempts.startClientPath(peer, from);
    return true;
  }

  /** A ClientHello whose cookie showed the source is real: a port the rolodex never saw is the peer's NAT mapping toward us. */
  clientHelloFrom(peer: Peer, remote: Endpoint): void {
    peer.addCandidate(remote, this.clock.now(), 0, MAX_CANDIDATES);
  }
}
