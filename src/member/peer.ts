// One peer (a member listed by a rolodex, or one that reached us first) for as long as we know
// it: who it is, where it may be reached, its paths and counters. A path is one DTLS session with
// one remote endpoint, pending while it handshakes; the current try to connect is its Attempt.
import type { DtlsSession, HandshakeInfo, Role } from '../dtls/index';
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { Attempt } from './attempt';
import { isRelayed, relayedPeerKey } from './relay-endpoint';
import type { IpPrefix } from './ip-prefix';
import { emptySessionCounters } from './session-counters';
import type { VpnAddress } from './vpn-address';

export type PeerKind = 'meshboi' | 'original' | 'unknown';
export type PeerState = 'punching' | 'handshaking' | 'established' | 'closed';

/** Per-peer drop reasons; the object's shape is fixed so the packet path increments a known field. */
export interface PeerDrops {
  /** A packet from the peer whose inner source is not the peer's VPN IP. */
  spoofed_source: number;
  /** A packet for the peer while no session is established. */
  not_established: number;
  /** A record from the peer that is not an IP packet. */
  malformed: number;
  /** The session refused to seal a packet. */
  send_failed: number;
  /** A packet for an original peer whose record would exceed what pion can read (8,192 bytes). */
  too_large_for_peer: number;
}

export class Path {
  readonly remoteKey: string;
  /** Datagrams fed to the session; a pending client path that heard nothing may yield (see resolveRace). */
  fed = 0;
  info: HandshakeInfo | null = null;
  /** Last authenticated record on this path (or its creation); a standby path silent too long is dropped. */
  lastAuthenticatedAt: number;
  /** Whether native code seals and opens this path's records (fast-path.ts): off, pending (armed after the batch), armed, or refused (its suite). */
  native: 'off' | 'pending' | 'armed' | 'refused' = 'off';

  constructor(
    readonly remote: Endpoint,
    readonly role: Role,
    readonly session: DtlsSession,
    /** Null for a server handshake from an address no map has told us about yet. */
    public peer: Peer | null,
    now: number,
  ) {
    this.remoteKey = formatEndpoint(remote);
    this.lastAuthenticatedAt = now;
  }
}

export class Peer {
  readonly outsideKey: string;
  /** When we first heard of the peer: a full table measures an unanswered peer's trial from it. */
  readonly createdAt: number;
  /** The advertised LAN endpoints. */
  locals: Endpoint[] = [];
  /**
   * The peer shares our outside IP: it is behind our NAT, so its LAN endpoints may answer. Other
   * peers' LAN addresses mean nothing here (or another host), so we never send to them.
   */
  sameNat = false;
  vpn: VpnAddress | null = null;
  /** The peer's other VPN addresses (its peer-info said so), routed to it and accepted as inner sources. */
  extraVpn: VpnAddress[] = [];
  /** Prefixes behind the peer that we accepted (--accept-routes): routed to it and accepted as inner sources. */
  routes: IpPrefix[] = [];
  /** The name the peer told us, once no other peer holds it; original peers have none. */
  name: string | null = null;
  /** The peer's current session has its peer-info (the peer said "heard"); until then we resend ours. */
  infoAcked = false;
  /** We have the peer-info of its current session. */
  infoHeard = false;
  kind: PeerKind = 'unknown';
  /** The largest IP packet the peer can take in one record: bounded for original peers only. */
  maxPacketBytes = Infinity;
  /** The established path the packet path sends on; moved by authenticated records only. */
  active: Path | null = null;
  /** Other established paths of the same peer (server side of a same-NAT race), kept until silent. */
  readonly standby = new Set<Path>();
  /** The current try to connect (or to replace the session of a peer that restarted); null when none runs. */
  attempt: Attempt | null = null;
  private closed = false;

  /** When the active session's handshake completed; null while there is none. */
  handshakeAt: number | null = null;
  /** Last authenticated record from the peer, or the start of its latest attempt: what liveness and removal look at. */
  lastAuthenticatedAt: number;
  lastSentAt = 0;
  /** When a map last named the peer; null for one that reached us before any map did. */
  lastListedAt: number | null = null;
  /**
   * The rolodexes (by formatted endpoint) whose latest map entry for the peer says they relay to
   * it: only through those may it be tried, so a peer that takes no relay frames (an original
   * member) never costs a handshake the rolodex refuses.
   */
  readonly relayedToBy = new Set<string>();
  gone = false;
  lastError: string | null = null;
  /**
   * Peer-reflexive endpoints (as in ICE): ports on the peer's outside IP that a `hello` or a
   * ClientHello came from while we were still connecting, which is what a symmetric NAT does
   * (a new port per destination). Unauthenticated: only a handshake on one makes it a session.
   */
  readonly candidates: Endpoint[] = [];
  /** When the last candidate was added: at most one per hello wait, so spoofed ports cannot make us a handshake amplifier. */
  lastCandidateAt = -Infinity;

  packetsIn = 0;
  packetsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly drops: PeerDrops = { spoofed_source: 0, not_established: 0, malformed: 0, send_failed: 0, too_large_for_peer: 0 };
  /** What the peer's ended sessions counted; status adds the current ones. */
  readonly endedSessions = emptySessionCounters();

  constructor(
    readonly outside: Endpoint,
    /** Our role by outside-address ordering (the spec's rule); a yielded race may use the other. */
    readonly role: Role,
    now: number,
  ) {
    this.outsideKey = formatEndpoint(outside);
    this.createdAt = now;
    this.lastAuthenticatedAt = now;
  }

  /** Established while it has an active path, else what its attempt is doing; closed is terminal. */
  get state(): PeerState {
    if (this.closed) return 'closed';
    if (this.active !== null) return 'established';
    return this.attempt?.state === 'handshaking' ? 'handshaking' : 'punching';
  }

  /** Marks the peer closed for good (its paths and attempt already ended); closing twice is a bug. */
  close(): void {
    if (this.closed) throw new Error(`peer ${this.outsideKey} closed twice`);
    this.closed = true;
  }

  /** Every endpoint this peer may be reached at: outside first, then candidates, then its LAN endpoints when behind our NAT. */
  endpoints(): Endpoint[] {
    const reachable = [this.outside, ...this.candidates];
    if (!this.sameNat) return reachable;
    return [...reachable, ...this.locals.filter((local) => formatEndpoint(local) !== this.outsideKey)];
  }

  /** Established through a relay (relays.ts): attempts keep trying direct meanwhile. */
  get relayed(): boolean {
    return this.active !== null && isRelayed(this.active.remote);
  }

  /** Established on a direct path: nothing left to try. */
  get direct(): boolean {
    return this.active !== null && !isRelayed(this.active.remote);
  }

  ownsEndpoint(key: string): boolean {
    return key === this.outsideKey || relayedPeerKey(key) === this.outsideKey || this.candidates.some((candidate) => formatEndpoint(candidate) === key) || this.locals.some((local) => formatEndpoint(local) === key);
  }

  /**
   * Records a peer-reflexive endpoint, the oldest making way beyond `max`; false if it was
   * known already or another came within `minIntervalMs` (the caller then ignores the datagram).
   */
  addCandidate(endpoint: Endpoint, now: number, minIntervalMs: number, max: number): boolean {
    const key = formatEndpoint(endpoint);
    if (this.ownsEndpoint(key) || now - this.lastCandidateAt < minIntervalMs) return false;
    this.lastCandidateAt = now;
    this.candidates.push({ ...endpoint });
    if (this.candidates.length > max) this.candidates.shift();
    return true;
  }
}
