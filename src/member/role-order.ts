// Who is the DTLS server between two members: the spec's order of outside endpoints, which both
// sides compute from the same map and so agree on without a word.
import type { Role } from '../dtls/index';
import type { Endpoint } from '../net/transport';
import { addressBytes } from '../rolodex-wire';

/**
 * The spec's role ordering: every IPv4 address before every IPv6 address, then the address
 * bytes, then the port. Negative when a sorts first; the larger endpoint is the DTLS server.
 */
export function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const aBytes = addressBytes(a.address);
  const bBytes = addressBytes(b.address);
  if (aBytes.length !== bBytes.length) return aBytes.length - bBytes.length;
  for (let i = 0; i < aBytes.length; i++) {
    if (aBytes[i] !== bBytes[i]) return aBytes[i] - bBytes[i];
  }
  return a.port - b.port;
}

/** Our role toward `peer` when a rolodex sees us at `self`; null when both are the same endpoint. */
export function roleToward(self: Endpoint, peer: Endpoint): Role | null {
  const order = compareEndpoints(self, peer);
  if (order === 0) return null;
  return order > 0 ? 'server' : 'client';
}
