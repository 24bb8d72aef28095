// The member's side of relays (docs/relays.md), as a transport between the member and its socket:
// a datagram for a relayed endpoint (relay-endpoint.ts) leaves as a frame to the relay member or
// rolodex it names, and a frame delivered from one comes up as a datagram from that endpoint, so a
// relayed session uses the stores and code of a direct one. It also knows which relays are alive,
// when a peer is unreached long enough for a rolodex that relays (the last resort), and when a
// pair on a rolodex should try a relay member that came up since.
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { DatagramTransport, Endpoint, MessageHandler } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { RelayLimits } from '../relay/budget';
import { decodeRelayFrame, encodeRelayFrame, RelayCodecError } from '../relay/wire';
import { decodeRolodexFrame, encodeRolodexFrame, ROLODEX_FRAME_MAGIC } from '../relay/rolodex-frame';
import type { Path, Peer } from './peer';
import type { PeerStore } from './peer-store';
import { isRelayed, pathPreference, relayedParts, relayEndpoint } from './relay-endpoint';
import { RelayService, type RelayStatus } from './relay-service';
import type { RolodexClient } from './rolodex-client';
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
/**
 * A relay member draws pairs off a rolodex once it has been alive this many times relayDeadMs
 * (12 s by default): one that comes and goes faster never moves a pair.
 */
const SETTLE_DEAD_PERIODS = 3;
/** Each try to move a pair off a rolodex doubles the settling time before its next, at most this many times (6.4 min by default). */
const MAX_MOVE_DOUBLINGS = 5;

export interface RelayEvents {
  /** A relay (`name`: its VPN IP, or "rolodex ADDRESS") was lost: every path through it ends (the member moves its peers elsewhere). */
  relayLost(name: string, paths: Path[]): void;
  /** A peer whose session runs through a relay starts a direct punching round: start ours too. */
  punch(peer: Peer): void;
  /**
   * A peer may be tried through `endpoint` now: one not yet reached rather than at its next round
   * (a relay offered itself, or the peer went unreached long enough for a rolodex that relays), or
   * one whose session runs through a rolodex, through a relay member that settled.
   */
  tryThrough(peer: Peer, endpoint: Endpoint): void;
}

interface UsedRelay {
  peer: Peer;
  /** When it offered itself: it has been alive since. */
  since: number;
  lastPongAt: number;
  /** Numbers our pings, so a capture tells them apart. */
  nonce: number;
}

export class Relays implements DatagramTransport {
  private handler: MessageHandler = () => {};
  /** Relays we may use, by their peer's outside key. */
  private readonly used = new Map<string, UsedRelay>();
  /** Rolodexes that relayed for us at the last tick, by key: one that stops is lost as a relay member is. */
  private readonly rolodexesInUse = new Set<string>();
  /** Since when each peer without a session has had none (seen at ticks). */
  private readonly unreachedSince = new WeakMap<Peer, number>();
  /** Pairs on a rolodex that tried a relay member: how often, and when they may try again. */
  private readonly moves = new WeakMap<Peer, { tries: number; nextAt: number }>();
  /** Forwarding for others (`--relay`); null when we do not relay. */
  private readonly service: RelayService | null;
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
    /** The rolodexes that relay for us (RolodexClient). */
    private readonly rolodexes: Pick<RolodexClient, 'relayAt' | 'relays'> = { relayAt: () => undefined, relays: () => [] },
  ) {
    this.service = options.offer ? new RelayService(store, options.limits, clock) : null;
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
    // Either frame is a copy: a view is enough for its payload.
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (rolodex?.cookieBytes && target) {
      const frame = encodeRolodexFrame({ type: 'forward', cookie: rolodex.cookieBytes, peer: target.outside, payload });
      return this.inner.send(frame, rolodex.endpoint.port, rolodex.endpoint.address);
    }
    const relay = parts && this.used.get(parts.relay)?.peer;
    if (!relay?.active || !target) {
      this.drops.relay_unavailable++;
      return;
    }
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
    if (frame.type === 'deliver') this.handler(frame.payload, relayEndpoint(rolodex.endpoint, frame.peer, true));
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
   * The peer through the first rolodex that relays for us and whose map says it relays to the
   * peer, once the peer has gone unreached rolodexRelayAfterMs (three times that when relay
   * members may carry it); null before, or with no such rolodex (the peer takes no relay frames).
   */
  private rolodexEndpointFor(peer: Peer, withRelayMembers: boolean): Endpoint | null {
    if (!this.options.use || peer.active !== null || peer.kind === 'original') return null;
    const since = this.unreachedSince.get(peer);
    const waitMs = this.timings.rolodexRelayAfterMs * (withRelayMembers ? ROLODEX_WAIT_WITH_RELAY_MEMBERS : 1);
    if (since === undefined || this.clock.now() - since < waitMs) return null;
    const rolodex = this.rolodexes.relays().find((link) => peer.relayedToBy.has(link.key));
    return rolodex === undefined ? null : relayEndpoint(rolodex.endpoint, peer.outside, true);
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
          this.used.set(from.outsideKey, { peer: from, since: this.clock.now(), lastPongAt: this.clock.now(), nonce: 0 });
          this.log.info('relay available', { relay: from.vpn?.text ?? from.outsideKey });
          // Unreached peers only: one on a rolodex moves once the relay settled (offRolodexes).
          for (const peer of this.store.peers.values()) {
            if (peer !== from && peer.active === null) for (const endpoint of this.endpointsFor(peer)) this.events.tryThrough(peer, endpoint);
          }
        }
        return;
      case 'punch':
        if (from.relayed) this.events.punch(from);
        return;
      case 'ping':
        this.service?.answerPing(path, frame.nonce);
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
        this.service?.forward(from, path, frame.peer, frame.payload);
        return;
    }
  }

  status(): RelayStatus | null {
    return this.service?.status() ?? null;
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
    this.service?.offer();
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
    this.offRolodexes(now);
  }

  /**
   * Pairs whose session we opened (the client's) through a rolodex try the relay members that
   * settled (alive SETTLE_DEAD_PERIODS relayDeadMs); the first handshake to complete takes the
   * session over (PeerSessions.upgrade). Each try doubles the wait before a pair's next, so relay
   * members that come and go cost a pair a bounded number of session changes; a pair that stayed
   * on a relay member through the longest wait starts afresh.
   */
  private offRolodexes(now: number): void {
    const settleMs = SETTLE_DEAD_PERIODS * this.timings.relayDeadMs;
    const longestWaitMs = settleMs * 2 ** MAX_MOVE_DOUBLINGS;
    for (const peer of this.store.peers.values()) {
      const path = peer.active;
      if (path === null || !isRelayed(path.remote)) continue;
      const move = this.moves.get(peer);
      if (pathPreference(path.remote) > 0) {
        if (move && peer.handshakeAt !== null && now - peer.handshakeAt >= longestWaitMs) this.moves.delete(peer);
        continue;
      }
      if (path.role !== 'client' || (move && now < move.nextAt)) continue;
      const endpoints: Endpoint[] = [];
      for (const used of this.used.values()) {
        if (used.peer === peer || used.peer.active === null || now - used.since < settleMs || endpoints.length >= MAX_RELAYS_PER_PEER) continue;
        endpoints.push(relayEndpoint(used.peer.outside, peer.outside));
      }
      if (endpoints.length === 0) continue;
      const tries = move?.tries ?? 0;
      this.moves.set(peer, { tries: tries + 1, nextAt: now + settleMs * 2 ** Math.min(tries + 1, MAX_MOVE_DOUBLINGS) });
      for (const endpoint of endpoints) this.events.tryThrough(peer, endpoint);
    }
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
      if (endpoint !== null) this.events.tryThrough(peer, endpoint);
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
