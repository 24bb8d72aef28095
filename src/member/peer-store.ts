// The member's peers in two stores, handshakes pending by remote endpoint and sessions
// established by remote endpoint and VPN IP, and resolveRace(): the one place races are decided.
import type { Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import { EndpointMap } from './endpoint-map';
import type { Path, Peer } from './peer';
import { parseVpnAddress, tail6, type VpnAddress } from './vpn-address';

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

export class PeerStore {
  /** Every peer by outside address (as the rolodex listed it, or the remote of an unlisted one). */
  readonly peers = new Map<string, Peer>();
  /** Handshakes in flight, by remote endpoint. */
  readonly pending = new EndpointMap<Path>();
  /** Established sessions (active and standby), by remote endpoint: the receive path's demux table. */
  readonly established = new EndpointMap<Path>();
  /** Which peer holds a VPN IP (established, or reconnecting after a session ended). */
  readonly byVpnIp = new Map<string, Peer>();
  /** The send path's IPv4 routes, by destination address as a number. */
  readonly routes4 = new Map<number, Peer>();
  /** IPv6 routes bucketed by the address's last 32 bits, so a lookup builds no key (see route6). */
  private readonly routes6 = new Map<number, Peer[]>();

  constructor(
    private readonly ownVpn: VpnAddress,
    private readonly limits: StoreLimits,
    /** Whether some rolodex still lists the peer (see Liveness): an unlisted holder may be taken over. */
    private readonly isListed: (peer: Peer) => boolean,
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
    if (vpn.text === this.ownVpn.text) return { action: 'reject', reason: `peer claims our own VPN IP ${vpn.text}` };
    const peer = path.peer ?? this.ownerOf(path.remoteKey) ?? null;
    if (peer?.state === 'closed') return { action: 'discard', reason: 'peer closed during the handshake' };
    const holder = this.byVpnIp.get(vpn.text);
    if (holder && holder !== peer) {
      if (this.isStale(holder, now) || path.info?.peerIsMeshboi === false) return { action: 'take_over', holder, peer, vpn };
      return { action: 'conflict', holder, vpn, staleAt: holder.lastAuthenticatedAt + this.limits.staleAfterMs };
    }
    if (peer?.state === 'established' && peer.active) {
      if (peer.active.remoteKey === path.remoteKey) return { action: 'replace', peer, old: peer.active, vpn };
      if (path.role === 'client') return { action: 'discard', reason: 'another path to this peer completed first' };
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

  /** Forgets a path everywhere it may be listed; true if it was still known. */
  forgetPath(path: Path): boolean {
    const known = this.pending.get(path.remote.address, path.remote.port) === path || this.established.get(path.remote.address, path.remote.port) === path;
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
    if (peer.active) peer.standby.add(peer.active);
    peer.standby.delete(path);
    peer.active = path;
  }

  /** Points the VPN IP and its route at `peer`, dropping any route the peer had for another IP. */
  claim(peer: Peer, vpn: VpnAddress): void {
    if (peer.vpn && peer.vpn.text !== vpn.text) this.unclaim(peer);
    peer.vpn = vpn;
    this.byVpnIp.set(vpn.text, peer);
    if (vpn.family === 4) this.routes4.set(vpn.v4, peer);
    else this.routes6.set(tail6(vpn), [...(this.routes6.get(tail6(vpn)) ?? []).filter((other) => other.vpn?.text !== vpn.text), peer]);
  }

  unclaim(peer: Peer): void {
    const vpn = peer.vpn;
    if (!vpn || this.byVpnIp.get(vpn.text) !== peer) return;
    this.byVpnIp.delete(vpn.text);
    if (vpn.family === 4) {
      this.routes4.delete(vpn.v4);
      return;
    }
    const bucket = (this.routes6.get(tail6(vpn)) ?? []).filter((other) => other !== peer);
    if (bucket.length > 0) this.routes6.set(tail6(vpn), bucket);
    else this.routes6.delete(tail6(vpn));
  }

  /** The peer holding an IPv6 packet's destination (bytes 24-39; the caller checked the length). */
  route6(packet: Buffer): Peer | undefined {
    const bucket = this.routes6.get(packet.readUInt32BE(36));
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      if (packet.compare(bucket[i].vpn!.v6, 0, 16, 24, 40) === 0) return bucket[i];
    }
    return undefined;
  }

  removePeer(peer: Peer): void {
    this.unclaim(peer);
    if (this.peers.get(peer.outsideKey) === peer) this.peers.delete(peer.outsideKey);
  }
}
