// The member's peers in two stores, handshakes pending by remote endpoint and sessions
// established by remote endpoint and VPN IP, and resolveRace(): the one place races are decided.
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import { EndpointMap } from './endpoint-map';
import { pathPreference } from './relay-endpoint';
import { prefixContains, prefixesOverlap, type IpPrefix } from './ip-prefix';
import type { Path, Peer } from './peer';
import { addSessionCounters, emptySessionCounters } from './session-counters';
import { parseVpnAddress, sourceIs, tail6, vpnAddressBytes, type VpnAddress } from './vpn-address';

/** A ClientHello with a valid cookie (CookieGate said accept) from `remote`. */
export interface ClientHelloEvent {
  kind: 'client_hello';
  remote: Endpoint;
}

/** The handshake on `path` finished; `identity` is the peer's PSK identity (its VPN IP). */
export interface HandshakeCompleteEvent {
  kind: 'handshake_complete';
  path: Path;
  identity: string;
}

export type ClientHelloOutcome =
  | { action: 'accept'; peer: Peer | null }
  | { action: 'accept_replacement'; peer: Peer }
  | { action: 'yield'; path: Path }
  | { action: 'ignore'; reason: string };

export type HandshakeCompleteOutcome =
  | { action: 'install'; peer: Peer | null; vpn: VpnAddress }
  | { action: 'replace'; peer: Peer; old: Path; vpn: VpnAddress }
  | { action: 'add_path'; peer: Peer }
  | { action: 'upgrade'; peer: Peer; old: Path }
  | { action: 'discard'; reason: string }
  | { action: 'take_over'; holder: Peer; peer: Peer | null; vpn: VpnAddress }
  | { action: 'conflict'; holder: Peer; vpn: VpnAddress; staleAt: number }
  | { action: 'reject'; reason: string };

export interface StoreLimits {
  /** Server handshakes in progress at most; more ClientHellos are ignored (a flood must not grow memory). */
  maxPending: number;
  /**
   * An established peer silent this long is presumed restarted when another claims its VPN IP:
   * about two keepalive intervals, which a live one of ours never misses (see resolveRace for
   * original peers).
   */
  staleAfterMs: number;
}

/** What this member itself holds, beside its identity: no peer may claim it. */
export interface OwnHoldings {
  /** Our other VPN address (dual-stack). */
  extraVpn?: readonly VpnAddress[];
  /** Our VPN subnets and the routes we advertise: a peer's route may not overlap them. */
  prefixes?: readonly IpPrefix[];
  name?: string | null;
}

export class PeerStore {
  /** Every peer by outside address (as the rolodex listed it, or the remote of an unlisted one). */
  readonly peers = new Map<string, Peer>();
  /** Handshakes in flight, by remote endpoint. */
  readonly pending = new EndpointMap<Path>();
  /** Established sessions (active and standby), by remote endpoint: the receive path's demux table. */
  readonly established = new EndpointMap<Path>();
  /** What every session forgotten so far counted, those of peers since removed included. */
  readonly endedSessions = emptySessionCounters();
  /** Which peer holds a VPN IP (established, or reconnecting after a session ended). */
  readonly byVpnIp = new Map<string, Peer>();
  /** The send path's IPv4 routes, by destination address as a number. */
  readonly routes4 = new Map<number, Peer>();
  /** IPv6 routes bucketed by the address's last 32 bits, so a lookup builds no key (see route6). */
  private readonly routes6 = new Map<number, Array<{ v6: Buffer; peer: Peer }>>();
  /** Accepted routes behind peers (--accept-routes), longest first: the send path looks here when no VPN IP matches. */
  readonly prefixRoutes: Array<{ prefix: IpPrefix; peer: Peer }> = [];
  /** Which peer holds a name (lower case); the first to claim it keeps it. */
  readonly byName = new Map<string, Peer>();

  constructor(
    private readonly ownVpn: VpnAddress,
    private readonly limits: StoreLimits,
    /** Whether some rolodex still lists the peer (see Liveness): an unlisted holder may be taken over. */
    private readonly isListed: (peer: Peer) => boolean,
    private readonly own: OwnHoldings = {},
    /** Called before a path stops being a peer's active one or is forgotten (fast-path.ts disarms it). */
    private readonly leaving: (path: Path) => void = () => {},
  ) {}

  /**
   * The one peer at outside IP `address` that we are still connecting to (punching or
   * handshaking): a datagram from an unknown port of that IP is its NAT's mapping toward us
   * (ICE's peer-reflexive candidate). Nobody when another peer shares the IP, since members
   * behind one NAT do and the sender could be any of them. Slow path only: it scans the peers.
   */
  reflexiveOwner(address: string): Peer | undefined {
    let found: Peer | undefined;
    for (const peer of this.peers.values()) {
      if (peer.outside.address !== address) continue;
      if (found) return undefined;
      found = peer;
    }
    return found?.state === 'punching' || found?.state === 'handshaking' ? found : undefined;
  }

  /** The peer whose outside address, candidate or advertised LAN endpoint is `key`. */
  ownerOf(key: string): Peer | undefined {
    const byOutside = this.peers.get(key);
    if (byOutside) return byOutside;
    for (const peer of this.peers.values()) if (peer.ownsEndpoint(key)) return peer;
    return undefined;
  }

  /**
   * Decides every race between handshakes and peers; the caller carries the outcome out.
   *
   * On a ClientHello with a valid cookie from `remote`:
   * - `yield`: our own client handshake to `remote` has heard nothing yet, so both sides think
   *   they are the client (their views of the outside addresses differ): abort ours, accept theirs.
   *   Jittered retries keep two yielding sides from repeating the race for ever.
   * - `ignore`: our client handshake to `remote` is under way (the peer is answering it), or too
   *   many server handshakes are pending.
   * - `accept_replacement`: `remote` has an established session: the peer restarted on the same
   *   outside address. Start a server handshake beside it; the old session stays until it completes.
   * - `accept`: start a server handshake, for the peer owning `remote` if one is known, else
   *   for the peer we are connecting to on `remote`'s IP (a peer-reflexive candidate: behind a
   *   symmetric NAT its ClientHello leaves from a port the rolodex never saw; the cookie has
   *   shown the source is real, and only the handshake shows who it is).
   *
   * On a completed handshake on `path`, with the peer's VPN IP as identity:
   * - `reject`: the identity is not an IP address, or it is our own VPN IP.
   * - `discard`: the peer was closed meanwhile, or we are the client and another path of this peer
   *   completed first (the first completed path wins, also for the same-NAT local endpoints).
   * - `take_over`: another peer holds the VPN IP but is stale: no longer listed (absent from
   *   maps, or `Gone`), not established, or with no authenticated record for staleAfterMs
   *   (about two keepalive intervals, which a live one of ours never misses): the member
   *   restarted on a new outside address. Remove the holder. An original holder sends no
   *   keepalives, so its silence alone proves nothing; but an original member that restarts on
   *   a new port completes a handshake carrying its VPN IP while its old session stays silent
   *   for good, and waiting until maps stop listing the old address would cost a minute or more.
   *   Also when the claimant is an original member, whoever holds the address: it keeps a
   *   completed session for as long as it runs and never handshakes with us again, so refusing it
   *   would cut it off until it restarts. An original member binds a new port at every start,
   *   so its restart always reaches us this way while its old session may still look live.
   * - `conflict`: another live peer holds the VPN IP: two members claim it. Keep the first;
   *   `staleAt` says when the holder turns stale if it stays silent, so a retry then takes over.
   * - `replace`: the peer is established on this same remote: a new handshake after a restart.
   *   The new session replaces the old one.
   * - `upgrade`: we are the client, the peer's session runs through a relay and this path is
   *   better (direct, or a relay member where the session runs through a rolodex): it becomes
   *   active and the relayed one ends (relays.ts, docs/relays.md).
   * - `add_path`: we are the server and the peer completed another of its paths: keep it as
   *   standby; the peer's next authenticated record on it makes it active.
   * - `install`: the peer (created if unknown) becomes established on this path.
   */
  resolveRace(event: ClientHelloEvent, now: number): ClientHelloOutcome;
  resolveRace(event: HandshakeCompleteEvent, now: number): HandshakeCompleteOutcome;
  resolveRace(event: ClientHelloEvent | HandshakeCompleteEvent, now: number): ClientHelloOutcome | HandshakeCompleteOutcome {
    if (event.kind === 'client_hello') return this.resolveClientHello(event.remote);
    const { path, identity } = event;
    const vpn = parseVpnAddress(identity);
    if (!vpn) return { action: 'reject', reason: `peer identity "${identity.slice(0, 64)}" is not an IP address` };
    if (this.isOwn(vpn)) return { action: 'reject', reason: `peer claims our own VPN IP ${vpn.text}` };
    const peer = path.peer ?? this.ownerOf(path.remoteKey) ?? null;
    if (peer?.state === 'closed') return { action: 'discard', reason: 'peer closed during the handshake' };
    const holder = this.byVpnIp.get(vpn.text);
    if (holder && holder !== peer) {
      if (this.isStale(holder, now) || path.info?.peerIsMeshboi === false) return { action: 'take_over', holder, peer, vpn };
      return { action: 'conflict', holder, vpn, staleAt: holder.lastAuthenticatedAt + this.limits.staleAfterMs };
    }
    if (peer?.state === 'established' && peer.active) {
      if (peer.active.remoteKey === path.remoteKey) return { action: 'replace', peer, old: peer.active, vpn };
      if (path.role === 'client') {
        if (pathPreference(path.remote) > pathPreference(peer.active.remote)) return { action: 'upgrade', peer, old: peer.active };
        return { action: 'discard', reason: 'another path to this peer completed first' };
      }
      return { action: 'add_path', peer };
    }
    return { action: 'install', peer, vpn };
  }

  private resolveClientHello(remote: Endpoint): ClientHelloOutcome {
    const pending = this.pending.get(remote.address, remote.port);
    if (pending) {
      if (pending.role === 'client' && pending.fed === 0) return { action: 'yield', path: pending };
      return { action: 'ignore', reason: 'a handshake with this address is under way' };
    }
    if (this.pending.size >= this.limits.maxPending) return { action: 'ignore', reason: 'too many handshakes in progress' };
    const established = this.established.get(remote.address, remote.port);
    if (established?.peer) return { action: 'accept_replacement', peer: established.peer };
    return { action: 'accept', peer: this.ownerOf(formatEndpoint(remote)) ?? this.reflexiveOwner(remote.address) ?? null };
  }

  private isStale(holder: Peer, now: number): boolean {
    if (holder.state !== 'established' || !this.isListed(holder)) return true;
    return now - holder.lastAuthenticatedAt > this.limits.staleAfterMs;
  }

  /** Lists a handshake as pending, and as its peer's attempt's (the caller made sure the peer has one). */
  addPending(path: Path): void {
    this.pending.set(path.remote, path);
    path.peer?.attempt?.paths.add(path);
  }

  /** Forgets a path everywhere it may be listed, its session's counters kept in the totals; true if it was still known. */
  forgetPath(path: Path): boolean {
    this.leaving(path);
    const known = this.pending.get(path.remote.address, path.remote.port) === path || this.established.get(path.remote.address, path.remote.port) === path;
    if (known) {
      addSessionCounters(this.endedSessions, path.session.counters);
      if (path.peer) addSessionCounters(path.peer.endedSessions, path.session.counters);
    }
    this.pending.delete(path.remote, path);
    this.established.delete(path.remote, path);
    if (path.peer) {
      path.peer.attempt?.paths.delete(path);
      path.peer.standby.delete(path);
      if (path.peer.active === path) path.peer.active = null;
    }
    return known;
  }

  /** Makes `path` the peer's active established path, and the peer the holder of `vpn`. */
  activate(peer: Peer, path: Path, vpn: VpnAddress): void {
    if (peer.active !== null && peer.active !== path) this.leaving(peer.active);
    this.establish(peer, path);
    peer.active = path;
    this.claim(peer, vpn);
  }

  addStandby(peer: Peer, path: Path): void {
    this.establish(peer, path);
    peer.standby.add(path);
  }

  /** Moves a completed handshake from the pending store to the established one, as the peer's. */
  private establish(peer: Peer, path: Path): void {
    this.pending.delete(path.remote, path);
    path.peer?.attempt?.paths.delete(path);
    path.peer = peer;
    this.established.set(path.remote, path);
  }

  /** Only after an authenticated record on `path`: the peer now sends from there. */
  roam(peer: Peer, path: Path): void {
    if (peer.active) {
      this.leaving(peer.active);
      peer.standby.add(peer.active);
    }
    peer.standby.delete(path);
    peer.active = path;
  }

  /** Points the VPN IP and its route at `peer`, dropping any route the peer had for another IP. */
  claim(peer: Peer, vpn: VpnAddress): void {
    if (peer.vpn && peer.vpn.text !== vpn.text) this.unclaim(peer);
    peer.vpn = vpn;
    this.route(peer, vpn);
  }

  /** Releases everything the peer holds: VPN IPs, accepted routes, name. */
  unclaim(peer: Peer): void {
    this.releaseExtras(peer);
    const vpn = peer.vpn;
    if (vpn && this.byVpnIp.get(vpn.text) === peer) this.unroute(vpn);
  }

  /**
   * Gives the peer what its peer-info claims beyond its identity: other VPN addresses, routes
   * (only when we accept routes) and a name. Anything held by us or another peer, or a route
   * overlapping one, is refused and named in the returned reasons; the rest replaces what the
   * peer held before.
   */
  claimExtras(peer: Peer, claims: { addresses: readonly VpnAddress[]; routes: readonly IpPrefix[]; name: string | null }): string[] {
    this.releaseExtras(peer);
    const refused: string[] = [];
    for (const address of claims.addresses) {
      if (address.text === peer.vpn?.text) continue;
      const holder = this.byVpnIp.get(address.text);
      if (this.isOwn(address)) refused.push(`VPN IP ${address.text} is ours`);
      else if (holder && holder !== peer) refused.push(`VPN IP ${address.text} belongs to ${holder.vpn?.text ?? holder.outsideKey}`);
      else {
        peer.extraVpn.push(address);
        this.route(peer, address);
      }
    }
    for (const prefix of claims.routes) {
      const clash = this.routeClash(prefix, peer);
      if (clash) refused.push(`route ${prefix.text} ${clash}`);
      else {
        peer.routes.push(prefix);
        this.prefixRoutes.push({ prefix, peer });
      }
    }
    this.prefixRoutes.sort((a, b) => b.prefix.length - a.prefix.length);
    if (claims.name !== null) {
      const holder = this.byName.get(claims.name);
      if (claims.name === this.own.name) refused.push(`name ${claims.name} is ours`);
      else if (holder && holder !== peer) refused.push(`name ${claims.name} belongs to ${holder.vpn?.text ?? holder.outsideKey}`);
      else {
        peer.name = claims.name;
        this.byName.set(claims.name, peer);
      }
    }
    return refused;
  }

  /** Why a peer's route cannot be accepted (it overlaps ours, a VPN IP of the mesh, or another peer's route); null if it can. */
  private routeClash(prefix: IpPrefix, peer: Peer): string | null {
    const mine = this.own.prefixes?.find((other) => prefixesOverlap(prefix, other));
    if (mine) return `overlaps our own ${mine.text}`;
    const taken = this.prefixRoutes.find((route) => route.peer !== peer && prefixesOverlap(prefix, route.prefix));
    if (taken) return `overlaps ${taken.prefix.text} of ${taken.peer.vpn?.text ?? taken.peer.outsideKey}`;
    for (const [text, holder] of this.byVpnIp) {
      const address = parseVpnAddress(text)!;
      if (address.family === prefix.family && prefixContains(prefix, vpnAddressBytes(address), 0)) return `covers ${text}, the VPN IP of ${holder.outsideKey}`;
    }
    return null;
  }

  private releaseExtras(peer: Peer): void {
    for (const address of peer.extraVpn) if (this.byVpnIp.get(address.text) === peer) this.unroute(address);
    peer.extraVpn = [];
    if (peer.routes.length > 0) {
      peer.routes = [];
      for (let i = this.prefixRoutes.length - 1; i >= 0; i--) if (this.prefixRoutes[i].peer === peer) this.prefixRoutes.splice(i, 1);
    }
    if (peer.name !== null && this.byName.get(peer.name) === peer) this.byName.delete(peer.name);
    peer.name = null;
  }

  private isOwn(vpn: VpnAddress): boolean {
    return vpn.text === this.ownVpn.text || (this.own.extraVpn?.some((other) => other.text === vpn.text) ?? false);
  }

  private route(peer: Peer, vpn: VpnAddress): void {
    this.byVpnIp.set(vpn.text, peer);
    if (vpn.family === 4) this.routes4.set(vpn.v4, peer);
    else this.routes6.set(tail6(vpn), [...(this.routes6.get(tail6(vpn)) ?? []).filter((other) => !other.v6.equals(vpn.v6)), { v6: vpn.v6, peer }]);
  }

  private unroute(vpn: VpnAddress): void {
    this.byVpnIp.delete(vpn.text);
    if (vpn.family === 4) {
      this.routes4.delete(vpn.v4);
      return;
    }
    const bucket = (this.routes6.get(tail6(vpn)) ?? []).filter((other) => !other.v6.equals(vpn.v6));
    if (bucket.length > 0) this.routes6.set(tail6(vpn), bucket);
    else this.routes6.delete(tail6(vpn));
  }

  /** The peer holding an IPv6 packet's destination (bytes 24-39; the caller checked the length). */
  route6(packet: Buffer): Peer | undefined {
    const bucket = this.routes6.get(packet.readUInt32BE(36));
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      if (packet.compare(bucket[i].v6, 0, 16, 24, 40) === 0) return bucket[i].peer;
    }
    return undefined;
  }

  /** The peer whose accepted route holds the packet's destination, longest prefix first (the caller checked the header length). */
  routeByPrefix(packet: Buffer): Peer | undefined {
    const version = packet[0] >> 4;
    const offset = version === 4 ? 16 : 24;
    for (let i = 0; i < this.prefixRoutes.length; i++) {
      const route = this.prefixRoutes[i];
      if (route.prefix.family === version && prefixContains(route.prefix, packet, offset)) return route.peer;
    }
    return undefined;
  }

  /**
   * Whether a packet from `peer` whose inner source is not its identity may still pass: the
   * source is another VPN IP of the peer or lies in a route we accepted from it (and from no one else).
   */
  sourceAllowed(peer: Peer, packet: Buffer): boolean {
    const version = packet[0] >> 4;
    for (const address of peer.extraVpn) if (sourceIs(packet, address)) return true;
    for (const prefix of peer.routes) if (prefix.family === version && prefixContains(prefix, packet, version === 4 ? 12 : 8)) return true;
    return false;
  }

  removePeer(peer: Peer): void {
    this.unclaim(peer);
    if (this.peers.get(peer.outsideKey) === peer) this.peers.delete(peer.outsideKey);
  }
}
