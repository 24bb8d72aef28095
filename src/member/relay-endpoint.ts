// The endpoint a relayed path is keyed by in the member's stores, as a direct path is by its remote
// socket address: it names the relay and the peer (each by its listed outside address), never
// reaches a socket (Relays, relays.ts, intercepts sends to it; its port is 0, which no socket
// sends to) and cannot collide with an IP.
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';

const PREFIX = 'relay/';

export function relayEndpoint(relay: Endpoint, peer: Endpoint): Endpoint {
  return { address: `${PREFIX}${formatEndpoint(relay)}/${formatEndpoint(peer)}`, port: 0 };
}

export function isRelayed(endpoint: Endpoint): boolean {
  return endpoint.address.startsWith(PREFIX);
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
