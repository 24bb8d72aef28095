// What a running member reports through its control surface (`meshboi status`, tests): the
// rolodexes, and every peer with its state, role, timings, counters and drops.
import { cipherSuiteById } from '../dtls/index';
import { formatEndpoint, type Offloads } from '../net/transport';
import type { Peer } from './peer';
import type { RolodexLinkStatus } from './rolodex-client';

export interface PeerStatus {
  vpnIp: string | null;
  outsideAddress: string;
  /** Where the session's datagrams go: the outside address, or a LAN endpoint behind the same NAT. */
  endpoint: string;
  role: 'client' | 'server';
  /** `failed`: punching again after a failed round (see lastError). */
  state: 'punching' | 'handshaking' | 'established' | 'closed' | 'failed';
  kind: 'meshboi' | 'original' | 'unknown';
  cipherSuite: string | null;
  sinceHandshakeMs: number | null;
  /** Since the last authenticated record from the peer (an IP packet, or one of our keepalives); null before a handshake. */
  sinceLastPacketMs: number | null;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  drops: Record<string, number>;
  lastError: string | null;
}

export interface MemberStatus {
  network: string;
  vpnIp: string;
  outsideAddress: string | null;
  tun: { name: string; mtu: number };
  /** Kernel offloads of the TUN device and the UDP socket; null where the device or socket has none to offer. */
  offloads: { tun: Offloads | null; udp: Offloads | null };
  rolodexes: RolodexLinkStatus[];
  peers: PeerStatus[];
  /** Drops no single peer can be charged with (no route, unknown sources, bad ClientHellos, bad maps). */
  drops: Record<string, number>;
}

export function peerStatus(peer: Peer, now: number): PeerStatus {
  const path = peer.active;
  const suite = path?.info?.cipherSuite;
  const state = peer.state === 'punching' && peer.lastError !== null ? 'failed' : peer.state;
  return {
    vpnIp: peer.vpn?.text ?? null,
    outsideAddress: peer.outsideKey,
    endpoint: path ? formatEndpoint(path.remote) : peer.outsideKey,
    role: path?.role ?? peer.role,
    state,
    kind: peer.kind,
    cipherSuite: suite === undefined ? null : (cipherSuiteById(suite)?.name ?? `0x${suite.toString(16).padStart(4, '0')}`),
    sinceHandshakeMs: peer.handshakeAt === null ? null : now - peer.handshakeAt,
    sinceLastPacketMs: peer.handshakeAt === null ? null : now - peer.lastAuthenticatedAt,
    packetsIn: peer.packetsIn,
    packetsOut: peer.packetsOut,
    bytesIn: peer.bytesIn,
    bytesOut: peer.bytesOut,
    drops: { ...peer.drops },
    lastError: peer.lastError,
  };
}
