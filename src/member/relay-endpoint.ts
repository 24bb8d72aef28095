// The endpoint a relayed path is keyed by in the member's stores, as a direct path is by its remote
// socket address: it names the relay and the peer (each by its listed outside address) and whether
// the relay is a rolodex, never reaches a socket (Relays, relays.ts, intercepts sends to it; its
// port is 0, which no socket sends to) and cannot collide with an IP.
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';

const PREFIX = 'relay/';
/** Ends the address of a path through a rolodex, so the stores can rank paths without asking Relays. */
const ROLODEX_SUFFIX = '/rolodex';

/** A path through a relay member, or (`viaRolodex`) through a rolodex started with `--relay`. */
export function relayEndpoint(relay: Endpoint, peer: Endpoint, viaRolodex = false): Endpoint {
  return { address: `${PREFIX}${formatEndpoint(relay)}/${formatEndpoint(peer)}${viaRolodex ? ROLODEX_SUFFIX : ''}`, port: 0 };
}

export function isRelayed(endpoint: Endpoint): boolean {
  return endpoint.address.startsWith(PREFIX);
}

/**
 * How good a path to a peer is (docs/relays.md): direct (2) over a relay member (1) over a
 * rolodex (0), the shared service with small budgets. A session moves only to a better path.
 */
export function pathPreference(endpoint: Endpoint): number {
  if (!isRelayed(endpoint)) return 2;
  return endpoint.address.endsWith(ROLODEX_SUFFIX) ? 0 : 1;
}

/** The relay's and the peer's outside keys of a relayed endpoint; null for a direct one. */
export function relayedParts(endpoint: Endpoint): { relay: string; peer: string } | null {
  if (!isRelayed(endpoint)) return null;
  const [relay, peer] = endpoint.address.slice(PREFIX.length).split('/');
  return { relay, peer };
}

/** The peer's outside key of a relayed endpoint's formatted key ("[relay/R/P]:0"); null for a direct one. */
export function relayedPeerKey(key: string): string | null {
  if (!key.startsWith(`[${PREFIX}`)) return null;
  return key.slice(PREFIX.length + 1, key.lastIndexOf(']')).split('/')[1] ?? null;
}
