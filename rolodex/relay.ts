// Relaying through the rolodex (`--relay`, docs/relays.md "Through a rolodex"), the last resort of
// a network with no relay member: it forwards the opaque records of two members' own DTLS session,
// only between endpoints registered in the same network that take relay frames and have proven
// they receive at their address (reachability cookie), within byte budgets per network and per
// endpoint. What goes out is what came in, less the cookie, with the sender's address for the
// receiver's; nothing goes out but in answer to a frame. No I/O: the server decodes the frame and
// sends the datagram this returns.
import type { Endpoint } from '../src/net/transport';
import { formatEndpoint } from '../src/net/transport';
import { TokenBuckets } from '../src/net/token-buckets';
import { deliverFrameBytes, encodeRolodexFrame } from '../src/relay/rolodex-frame';
import type { Member, Network } from './network';

export type RelayRefusal =
  /** The rolodex was not started with --relay. */
  | 'relay_off'
  /** Not a frame we could decode, or one only a rolodex sends. */
  | 'relay_malformed'
  /** The sender is no member that takes relay frames and proved its address with its current cookie. */
  | 'relay_unverified'
  /** The destination is not such a member of a network the sender is in. */
  | 'relay_no_route'
  /** The sender's endpoint spent its budget (--relay-endpoint-budget). */
  | 'relay_endpoint_budget'
  /** The network spent its budget (--relay-network-budget). */
  | 'relay_network_budget';

/** What forward() refuses a decoded forward frame for. */
export type ForwardRefusal = Exclude<RelayRefusal, 'relay_off' | 'relay_malformed'>;

export interface RelayBudgets {
  relayNetworkBytesPerSecond: number;
  relayEndpointBytesPerSecond: number;
}

/**
 * Whether a member is one to relay for now: it takes relay frames and echoed a cookie lately;
 * with `cookie`, also whether that is one we issued for it (the sender of a frame shows one).
 */
export type RelayProof = (member: Member, cookie: Buffer | null, now: number) => boolean;

export class RolodexRelay {
  /** The networks each registered endpoint is in (nearly always one), kept by registered() and prune(). */
  private readonly networksOf = new Map<string, Network[]>();
  private readonly endpointBudget: TokenBuckets;
  private readonly networkBudget: TokenBuckets;
  readonly counters = { frames: 0, bytes: 0 };

  constructor(
    budgets: RelayBudgets,
    /** The server's networks by name: a network in the index that is no longer there is stale. */
    private readonly networks: ReadonlyMap<string, Network>,
    private readonly proof: RelayProof,
  ) {
    // One second of the rate may go at once: a relayed TCP window, not a flood.
    this.endpointBudget = new TokenBuckets(budgets.relayEndpointBytesPerSecond, budgets.relayEndpointBytesPerSecond);
    this.networkBudget = new TokenBuckets(budgets.relayNetworkBytesPerSecond, budgets.relayNetworkBytesPerSecond);
  }

  /** A member joined `network` at `key`: frames from it may name the network's other members. */
  registered(network: Network, key: string): void {
    const list = this.networksOf.get(key);
    if (list === undefined) this.networksOf.set(key, [network]);
    else if (!list.includes(network)) list.push(network);
  }

  /**
   * A forward frame from `from` for the member at `to`: the deliver datagram and its recipient, or
   * why not. The sender's endpoint and its network are charged the deliver datagram's bytes.
   */
  forward(from: Endpoint, cookie: Buffer, to: Endpoint, payload: Buffer, now: number): { to: Member; datagram: Buffer } | ForwardRefusal {
    const fromKey = formatEndpoint(from);
    const toKey = formatEndpoint(to);
    let sender: Member | null = null;
    let route: { network: Network; target: Member } | null = null;
    for (const network of this.networksOf.get(fromKey) ?? []) {
      const member = network.members.get(fromKey);
      if (member === undefined || this.networks.get(network.name) !== network) continue;
      if (sender === null) {
        if (!this.proof(member, cookie, now)) return 'relay_unverified';
        sender = member;
      }
      const target = network.members.get(toKey);
      if (target !== undefined && target !== member && this.proof(target, null, now)) {
        route = { network, target };
        break;
      }
    }
    if (sender === null) return 'relay_unverified';
    if (route === null) return 'relay_no_route';
    // The endpoint first: one member over its budget leaves the network's to the others.
    const bytes = deliverFrameBytes(from, payload.length);
    if (!this.endpointBudget.take(fromKey, bytes, now)) return 'relay_endpoint_budget';
    if (!this.networkBudget.take(route.network.name, bytes, now)) return 'relay_network_budget';
    this.counters.frames++;
    this.counters.bytes += bytes;
    return { to: route.target, datagram: encodeRolodexFrame({ type: 'deliver', peer: from, payload }) };
  }

  /** Forgets endpoints no longer registered, and budgets refilled and unused for `idleMs`. */
  prune(now: number, idleMs: number): void {
    for (const [key, list] of this.networksOf) {
      const live = list.filter((network) => this.networks.get(network.name) === network && network.members.has(key));
      if (live.length === 0) this.networksOf.delete(key);
      else if (live.length !== list.length) this.networksOf.set(key, live);
    }
    this.endpointBudget.prune(now, idleMs);
    this.networkBudget.prune(now, idleMs);
  }

  /** Endpoints the index holds, for the summary: bounded by the members the rolodex holds. */
  get endpoints(): number {
    return this.networksOf.size;
  }
}
