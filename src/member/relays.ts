// Relays through members (docs/relays.md). As a transport, Relays sits between the member and its
// socket: a datagram for a relayed endpoint (relay-endpoint.ts) leaves as a `forward` frame inside
// our DTLS session with that relay, and a `deliver` frame from a relay comes up as a datagram from
// the relayed endpoint, so the two members' own DTLS session runs end to end through it, in the
// same stores and code as a direct one. As a relay (`--relay`) it forwards frames between members
// of its network that hold a session with it, within a budget per pair, never to an original
// member. It also tells which relays are alive: relays announce themselves (`offer`) and answer
// the `ping` their members send every relayPingMs; a relay silent relayDeadMs is lost and the
// paths through it end at once, so their peers move to another relay or to direct. A rolodex that
// relays (rolodex-client.ts) is the last resort: a peer is tried through it only once it went
// unreached rolodexRelayAfterMs with no relay member to try (three times that with one); its frames
// are plain datagrams to the rolodex (src/relay/rolodex-frame.ts), and the relayed endpoint names
// it as it names a relay member.
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { DatagramTransport, Endpoint, MessageHandler } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import { RelayBudget, type RelayCounters, type RelayLimits, type RelayPairStatus } from '../relay/budget';
import { decodeRelayFrame, encodeRelayFrame, RelayCodecError } from '../relay/wire';
import { decodeRolodexFrame, encodeRolodexFrame, ROLODEX_FRAME_MAGIC } from '../relay/rolodex-frame';
import type { Path, Peer } from './peer';
import type { PeerStore } from './peer-store';
import { isRelayed, relayedParts, relayEndpoint } from './relay-endpoint';
import type { RolodexRelayLink } from './rolodex-client';
import type { TimerSet } from './timers';

export interface RelayTimings {
  /** How often we ping each relay we use (and, as a relay, offer ourselves to new peers). */
  relayPingMs: number;
  /** A relay that answered no ping for this long is lost. */
  relayDeadMs: number;
  /**
   * A peer unreached this long with no relay member to try (three times this with one) is tried
   * through a rolodex that relays: a last resort, after direct punching had its chance.
   */
  rolodexRelayAfterMs: number;
}

export interface RelayOptions {
  /** Forward for the other members of our network (`--relay`). */
  offer: boolean;
  /** Reach peers through relays that offer themselves (on by default). */
  use: boolean;
  limits: RelayLimits;
}

/** Relay members a peer is tried through at most, so one unreachable peer costs a bounded number of handshakes. */
const MAX_RELAYS_PER_PEER = 2;
/** How much longer a peer with relay members to try waits before it is tried through a rolodex too. */
const ROLODEX_WAIT_WITH_RELAY_MEMBERS = 3;

/** The rolodexes that relay for us (RolodexClient). */
export interface RolodexRelays {
  relayAt(key: string): RolodexRelayLink | undefined;
  relays(): RolodexRelayLink[];
}

/** What `meshboi status` shows of a relay: what it forwards. */
export interface RelayStatus extends RelayCounters {
  forwarding: RelayPairStatus[];
}

export interface RelayEvents {
  /** A relay offered itself: peers not yet reached may be tried through it at once. */
  relayFound(relay: Peer): void;
  /** A relay (`name`: its VPN IP, or "rolodex ADDRESS") was lost: every path through it ends (the member moves its peers elsewhere). */
  relayLost(name: string, paths: Path[]): void;
  /** A peer whose session runs through a relay starts a direct punching round: start ours too. */
  punch(peer: Peer): void;
  /** A peer unreached long enough may be tried through a rolodex that relays, now rather than at its next round. */
  lastResort(peer: Peer, endpoint: Endpoint): void;
}

interface UsedRelay {
  peer: Peer;
  lastPongAt: number;
  /** Numbers our pings, so a capture tells them apart. */
  nonce: number;
}

export class Relays implements DatagramTransport {
  private handler: MessageHandler = () => {};
  /** Relays we may use, by their peer's outside key. */
  private readonly used = new Map<string, UsedRelay>();
  /** The active paths we offered ourselves on, so each hears `offer` once. */
  private readonly offered = new WeakSet<Path>();
  /** Rolodexes that relayed for us at the last tick, by key: one that stops is lost as a relay member is. */
  private readonly rolodexesInUse = new Set<string>();
  /** Since when each peer without a session has had none (seen at ticks). */
  private readonly unreachedSince = new WeakMap<Peer, number>();
  private readonly budget: RelayBudget;
  /** Frames we could not decode, and relayed datagrams with no live relay to carry them. */
  readonly drops = { relay_malformed: 0, relay_unavailable: 0 };

  constructor(
    private readonly inner: DatagramTransport,
    private readonly store: PeerStore,
    private readonly options: RelayOptions,
    private readonly timings: RelayTimings,
    private readonly clock: Clock,
    private readonly events: RelayEvents,
    private readonly log: Logger,
    private readonly rolodexes: RolodexRelays = { relayAt: () => undefined, relays: () => [] },
  ) {
    this.budget = new RelayBudget(options.limits);
  }

  start(timers: TimerSet): void {
    if (this.options.offer || this.options.use) timers.every(this.timings.relayPingMs, () => this.tick());
  }

  send(data: Uint8Array, port: number, address: string, ttl?: number): void {
    // The packet path's test: a relayed endpoint's port is 0, which no socket sends to.
    if (port !== 0 || !isRelayed({ address, port })) return this.inner.send(data, port, address, ttl);
    // Our opening hello: a relay carries nothing it could only send with a TTL.
    if (ttl !== undefined) return;
    const parts = relayedParts({ address, port });
    const target = parts && this.store.peers.get(parts.peer);
    const rolodex = parts && this.rolodexes.relayAt(parts.relay);
    if (rolodex?.cookieBytes && target) {
      const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const frame = encodeRolodexFrame({ type: 'forward', cookie: rolodex.cookieBytes, peer: target.outside, payload });
      return this.inner.send(frame, rolodex.endpoint.port, rolodex.endpoint.address);
    }
    const relay = parts && this.used.get(parts.relay)?.peer;
    if (!relay?.active || !target) {
      this.drops.relay_unavailable++;
      return;
    }
    // The frame is a copy: a view is enough for its payload.
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    relay.active.session.send(encodeRelayFrame({ type: 'forward', peer: target.outside, payload }));
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
    this.inner.onMessage(this.receive);
  }

  /** Everything from the socket: a rolodex's deliver frame comes up from its relayed endpoint, the rest as it came. */
  private readonly receive = (data: Buffer, from: Endpoint): void => {
    if (data.length > 0 && data[0] === ROLODEX_FRAME_MAGIC && this.fromRolodex(data, from)) return;
    this.handler(data, from);
  };

  /** A frame from a rolodex that relays for us: true when handled (delivered or dropped). */
  private fromRolodex(data: Buffer, from: Endpoint): boolean {
    const rolodex = this.rolodexes.relayAt(formatEndpoint(from));
    if (rolodex === undefined) return false;
    let frame;
    try {
      frame = decodeRolodexFrame(data);
    } catch (error) {
      if (!(error instanceof RelayCodecError)) throw error;
      this.drops.relay_malformed++;
      return true;
    }
    if (frame.type === 'deliver') this.handler(frame.payload, relayEndpoint(rolodex.endpoint, frame.peer));
    else this.drops.relay_malformed++;
    return true;
  }

  localEndpoint(): Endpoint {
    return this.inner.localEndpoint();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * The relayed endpoints a peer may be tried through: live relay members other than the peer
   * itself, and as the last resort the first rolodex that relays for us (see rolodexEndpointFor).
   */
  endpointsFor(peer: Peer): Endpoint[] {
    const endpoints = this.memberRelayEndpoints(peer);
    const rolodex = this.rolodexEndpointFor(peer, endpoints.length > 0);
    if (rolodex !== null) endpoints.push(rolodex);
    return endpoints;
  }

  private memberRelayEndpoints(peer: Peer): Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const { peer: relay } of this.used.values()) {
      if (relay === peer || relay.active === null || endpoints.length >= MAX_RELAYS_PER_PEER) continue;
      endpoints.push(relayEndpoint(relay.outside, peer.outside));
    }
    return endpoints;
  }

  /**
   * The peer through the first rolodex that relays for us, once the peer has gone unreached
   * rolodexRelayAfterMs (three times that when relay members may carry it); null before, or with
   * no such rolodex.
   */
  private rolodexEndpointFor(peer: Peer, withRelayMembers: boolean): Endpoint | null {
    if (!this.options.use || peer.active !== null || peer.kind === 'original') return null;
    const since = this.unreachedSince.get(peer);
    const waitMs = this.timings.rolodexRelayAfterMs * (withRelayMembers ? ROLODEX_WAIT_WITH_RELAY_MEMBERS : 1);
    if (since === undefined || this.clock.now() - since < waitMs) return null;
    const rolodex = this.rolodexes.relays()[0];
    return rolodex === undefined ? null : relayEndpoint(rolodex.endpoint, peer.outside);
  }

  /** A relay frame, a control record authenticated from one of our own peers (Outside and ControlRecords send them here). */
  frame(from: Peer, plaintext: Buffer): void {
    const path = from.active;
    if (path === null || from.kind !== 'meshboi') return;
    let frame;
    try {
      frame = decodeRelayFrame(plaintext);
    } catch (error) {
      if (!(error instanceof RelayCodecError)) throw error;
      this.drops.relay_malformed++;
      return;
    }
    switch (frame.type) {
      case 'offer':
        if (this.options.use && !this.used.has(from.outsideKey)) {
          this.used.set(from.outsideKey, { peer: from, lastPongAt: this.clock.now(), nonce: 0 });
          this.log.info('relay available', { relay: from.vpn?.text ?? from.outsideKey });
          this.events.relayFound(from);
        }
        return;
      case 'punch':
        if (from.relayed) this.events.punch(from);
        return;
      case 'ping':
        if (this.options.offer) path.session.send(encodeRelayFrame({ type: 'pong', nonce: frame.nonce }));
        return;
      case 'pong': {
        // Authenticated by the session: any pong proves the relay alive.
        const used = this.used.get(from.outsideKey);
        if (used) used.lastPongAt = this.clock.now();
        return;
      }
      case 'deliver':
        if (this.used.has(from.outsideKey)) this.handler(frame.payload, relayEndpoint(from.outside, frame.peer));
        return;
      case 'forward':
        // Never a relay of a relay: frames come in, and go out, on direct sessions only.
        if (this.options.offer && !isRelayed(path.remote)) this.forward(from, frame.peer, frame.payload);
        return;
    }
  }

  /**
   * As a relay: on to `to` if it is one of our own peers with a session, not the sender, and the
   * pair is within its budget. The frame out is the one in with the other member's address: never
   * larger than what came in but for the address (an IPv6 sender to an IPv4 one: 12 bytes).
   */
  private forward(from: Peer, to: Endpoint, payload: Buffer): void {
    const target = this.store.peers.get(formatEndpoint(to));
    if (!target || target === from || target.kind !== 'meshboi' || target.active === null || isRelayed(target.active.remote)) {
      this.budget.noRoute();
      return;
    }
    if (!this.budget.allow(from.outsideKey, target.outsideKey, payload.length, this.clock.now())) return;
    target.active.session.send(encodeRelayFrame({ type: 'deliver', peer: from.outside, payload }));
  }

  status(): RelayStatus | null {
    if (!this.options.offer) return null;
    return { ...this.budget.counters, refused: { ...this.budget.counters.refused }, forwarding: this.budget.pairStatus() };
  }

  /** Tells a relayed peer we start a direct round now (see the `punch` frame). */
  announcePunch(peer: Peer): void {
    if (peer.relayed && peer.kind === 'meshboi') peer.active?.session.send(encodeRelayFrame({ type: 'punch' }));
  }

  /** The relay a relayed path runs through, as its peer's VPN IP (or outside address); null for a direct path. */
  relayOf(path: Path): string | null {
    const parts = relayedParts(path.remote);
    if (parts === null) return null;
    if (this.rolodexesInUse.has(parts.relay) || this.rolodexes.relayAt(parts.relay)) return `rolodex ${parts.relay}`;
    const relay = this.used.get(parts.relay)?.peer ?? this.store.peers.get(parts.relay);
    return relay?.vpn?.text ?? parts.relay;
  }

  /** Offers ourselves to peers that have not heard it on their current session; pings the relays we use. */
  private tick(): void {
    const now = this.clock.now();
    if (this.options.offer) {
      for (const peer of this.store.peers.values()) {
        const path = peer.active;
        if (path === null || peer.kind !== 'meshboi' || isRelayed(path.remote) || this.offered.has(path)) continue;
        this.offered.add(path);
        path.session.send(encodeRelayFrame({ type: 'offer' }));
      }
    }
    for (const [key, used] of this.used) {
      const relay = used.peer;
      if (relay.active === null || relay.state === 'closed' || now - used.lastPongAt > this.timings.relayDeadMs) {
        this.used.delete(key);
        const name = relay.vpn?.text ?? key;
        this.log.info('relay lost', { relay: name, silentMs: now - used.lastPongAt });
        this.events.relayLost(name, this.pathsThrough(key));
        continue;
      }
      used.nonce = (used.nonce + 1) >>> 0;
      relay.active.session.send(encodeRelayFrame({ type: 'ping', nonce: used.nonce }));
    }
    this.checkRolodexes();
    this.lastResorts(now);
  }

  /** Notes since when each peer has had no session, and offers those unreached long enough a rolodex that relays. */
  private lastResorts(now: number): void {
    for (const peer of this.store.peers.values()) {
      if (peer.active !== null) {
        this.unreachedSince.delete(peer);
        continue;
      }
      if (!this.unreachedSince.has(peer)) this.unreachedSince.set(peer, now);
      const endpoint = this.rolodexEndpointFor(peer, this.memberRelayEndpoints(peer).length > 0);
      if (endpoint !== null) this.events.lastResort(peer, endpoint);
    }
  }

  /** A rolodex that went silent or stopped relaying ends every path through it, as a lost relay member does. */
  private checkRolodexes(): void {
    const live = new Set(this.rolodexes.relays().map((rolodex) => rolodex.key));
    for (const key of this.rolodexesInUse) {
      if (live.has(key)) continue;
      this.rolodexesInUse.delete(key);
      this.log.info('relay lost', { relay: `rolodex ${key}` });
      this.events.relayLost(`rolodex ${key}`, this.pathsThrough(key));
    }
    for (const key of live) this.rolodexesInUse.add(key);
  }

  private pathsThrough(relayKey: string): Path[] {
    const paths: Path[] = [];
    for (const path of [...this.store.pending.values(), ...this.store.established.values()]) {
      if (relayedParts(path.remote)?.relay === relayKey) paths.push(path);
    }
    return paths;
  }
}
