// What a running member reports through its control surface (`meshboi status`, tests): the
// rolodexes, and every peer with its state, role, timings, counters, drops, handshakes and the
// DTLS counters of its sessions.
import { cipherSuiteById, type SessionCounters } from '../dtls/index';
import { formatEndpoint, type Offloads } from '../net/transport';
import type { FastPathStatus } from './fast-path';
import type { HandshakeCounts } from './handshake-watch';
import type { Path, Peer } from './peer';
import type { RelayStatus } from './relay-service';
import type { RolodexLinkStatus } from './rolodex-client';
import { addSessionCounters, emptySessionCounters } from './session-counters';

export interface PeerStatus {
  vpnIp: string | null;
  /** The peer's other VPN addresses (a dual-stack member of ours). */
  extraVpnIps: string[];
  /** Its full DNS name; null for an original member or one that told none. */
  name: string | null;
  /** Prefixes routed to the peer (accepted with --accept-routes). */
  routes: string[];
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
  /** `direct`, or `relay` through `relay` (the relay member's VPN IP, or "rolodex ADDRESS:PORT"); null without a session. */
  path: 'direct' | 'relay' | null;
  relay: string | null;
  /** Why the session is not direct: the last direct round's failure; null when direct or not yet known. */
  notDirect: string | null;
  /** The MTU of the route to the peer when a size probe raised it above the device's (path-mtu.ts); null: the device MTU. */
  mtu: number | null;
  /** Handshakes with this peer since we first heard of it: completed, and failed by cause. */
  handshakes: HandshakeCounts;
  /**
   * The DTLS engine's counters, summed over every session with the peer, ended ones included
   * (so a replaced session does not reset them): records that failed authentication or were
   * replays show here.
   */
  dtls: SessionCounters;
}

export interface MemberStatus {
  network: string;
  vpnIp: string;
  /** Every VPN address of ours: the identity first, then a dual-stack member's IPv6 one. */
  vpnIps: string[];
  /** Our full DNS name; null when names are off. */
  name: string | null;
  outsideAddress: string | null;
  tun: { name: string; mtu: number };
  /** Kernel offloads of the TUN device and the UDP socket; null where the device or socket has none to offer. */
  offloads: { tun: Offloads | null; udp: Offloads | null };
  /** The native data path (fast-path.ts): on or why not, and what it handled; null on a TAP member. */
  nativePath: FastPathStatus | null;
  rolodexes: RolodexLinkStatus[];
  peers: PeerStatus[];
  /** Drops no single peer can be charged with (no route, unknown sources, bad ClientHellos, bad maps). */
  drops: Record<string, number>;
  /** Handshakes of every peer, those forgotten since included. */
  handshakes: HandshakeCounts;
  /** The DTLS counters of every session the member has had, those of forgotten peers included. */
  dtls: SessionCounters;
  /** What this member forwards as a relay (`--relay`); null when it does not relay. */
  relay: RelayStatus | null;
}

/** `zone`: the labels our names end in, null when names are off; `relay`: the VPN IP of the relay member (or "rolodex ADDRESS:PORT") the active session runs through, null when direct; `mtu`: a probed MTU above the device's. */
export function peerStatus(peer: Peer, now: number, handshakes: HandshakeCounts, zone: readonly string[] | null, relay: string | null, mtu: number | null): PeerStatus {
  const path = peer.active;
  const suite = path?.info?.cipherSuite;
  const state = peer.state === 'punching' && peer.lastError !== null ? 'failed' : peer.state;
  return {
    vpnIp: peer.vpn?.text ?? null,
    extraVpnIps: peer.extraVpn.map((address) => address.text),
    name: peer.name === null || zone === null ? null : [peer.name, ...zone].join('.'),
    routes: peer.routes.map((route) => route.text),
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
    path: path === null ? null : relay === null ? 'direct' : 'relay',
    relay,
    notDirect: relay === null ? null : (peer.lastError ?? 'direct punching not tried yet'),
    mtu,
    handshakes: { completed: handshakes.completed, failed: { ...handshakes.failed } },
    dtls: [...currentPaths(peer)].reduce((sum, path) => addSessionCounters(sum, path.session.counters), addSessionCounters(emptySessionCounters(), peer.endedSessions)),
  };
}

/** The peer's paths with a live session, each once (a path moves between these sets). */
function currentPaths(peer: Peer): Set<Path> {
  const paths = new Set<Path>([...peer.standby, ...(peer.attempt?.paths ?? [])]);
  if (peer.active) paths.add(peer.active);
  return paths;
}
