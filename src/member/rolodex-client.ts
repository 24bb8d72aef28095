// Keeps the member registered with every configured rolodex over the member's one socket: a
// heartbeat with our LAN endpoints every interval, maps in, our outside address from YourIndex,
// the rolodex's cookie echoed back (proof that we receive there, so it does not ration us), and an
// outage logged once when a rolodex goes silent and once when it answers again. In a blind network
// the name is its tag, and our heartbeats carry our voucher instead of plain LAN endpoints; a map's
// entry is believed only with a voucher that opens, names it and is fresh (see blind-network.ts).
// Members that use relays say they take relay frames; a rolodex that relays says so beside each
// cookie it gives us, and is then one of our relays of last resort (relays.ts).
import type { Logger } from '../log';
import { RateLimitedLog } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import { decodeMap, encodeHeartbeat, type Heartbeat } from '../rolodex-wire';
import { VOUCHER_REFRESH_MS, type BlindNetwork } from './blind-network';
import { EndpointMap } from './endpoint-map';
import type { TimerSet } from './timers';

/** One member a map listed: its outside endpoint, its LAN endpoints, and ours as that rolodex sees us. */
export interface Listing {
  outside: Endpoint;
  /** Null when the map carried no extension (an original rolodex): it says nothing about LAN endpoints. */
  locals: Endpoint[] | null;
  self: Endpoint;
  /** The rolodex that listed it (its formatted endpoint). */
  rolodex: string;
  /** That rolodex relays to the member (`Meshboi.RelayTo`): it takes relay frames, so it may be tried through it. */
  relayTo: boolean;
}

export interface RolodexEvents {
  onListed(listing: Listing): void;
  onGone(outside: Endpoint): void;
}

export interface RolodexTimings {
  heartbeatMs: number;
  /** A rolodex that sent no map for this long is reported silent (once). */
  silentAfterMs: number;
}

/** A rolodex that relays for us: where it is, and the cookie our frames to it carry (relayAt() returns it only with one). */
export interface RolodexRelayLink {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly cookieBytes: Buffer | null;
}

export interface RolodexLinkStatus {
  address: string;
  lastMapAgoMs: number | null;
  reachable: boolean;
}

class RolodexLink implements RolodexRelayLink {
  readonly key: string;
  lastMapAt: number | null = null;
  silent = false;
  /** Our outside address as this rolodex sees it. */
  self: Endpoint | null = null;
  /** The rolodex said, beside its latest cookie, that it relays for us. */
  relays = false;
  /** The latest cookie's bytes, which our relay frames carry. */
  cookieBytes: Buffer | null = null;
  /** The heartbeat for this rolodex, carrying the latest cookie it gave us and our voucher. */
  heartbeat: Buffer;
  private cookie: string | undefined;
  private voucher: string | undefined;
  /** The outside endpoint our voucher names, and when we sealed it. */
  private vouchedFor: string | null = null;
  private vouchedAt = Number.NEGATIVE_INFINITY;

  constructor(readonly endpoint: Endpoint, private readonly template: Heartbeat) {
    this.key = formatEndpoint(endpoint);
    this.heartbeat = encodeHeartbeat(template);
  }

  /** Takes a cookie from a map; true when it is new, so echoing it at once proves us sooner. */
  takeCookie(cookie: string | undefined): boolean {
    if (cookie === undefined || cookie === this.cookie) return false;
    this.cookie = cookie;
    this.cookieBytes = Buffer.from(cookie, 'base64url');
    this.encode();
    return true;
  }

  /**
   * Seals a new voucher for our outside endpoint as this rolodex sees it, when we have none for
   * that endpoint or ours is due for refresh; true when the heartbeat changed.
   */
  vouch(blind: BlindNetwork, locals: readonly Endpoint[], now: number): boolean {
    if (!this.self) return false;
    const self = formatEndpoint(this.self);
    if (self === this.vouchedFor && now - this.vouchedAt < VOUCHER_REFRESH_MS) return false;
    this.voucher = blind.sealVoucher({ outside: this.self, issuedAt: now, locals: [...locals] });
    this.vouchedFor = self;
    this.vouchedAt = now;
    this.encode();
    return true;
  }

  private encode(): void {
    const heartbeat: Heartbeat = { ...this.template };
    if (this.cookie !== undefined) heartbeat.cookie = this.cookie;
    if (this.voucher !== undefined) heartbeat.opaque = this.voucher;
    this.heartbeat = encodeHeartbeat(heartbeat);
  }
}

export class RolodexClient {
  private readonly links: RolodexLink[];
  private readonly byEndpoint = new EndpointMap<RolodexLink>();
  private readonly byKey = new Map<string, RolodexLink>();
  private readonly malformedLog: RateLimitedLog;
  private readonly startedAt: number;
  private readonly localEndpoints: Endpoint[];
  /** The most recent map from any rolodex; null until one answers. */
  lastMapAt: number | null = null;
  /** Datagrams from a rolodex address that were not a valid map. */
  malformed = 0;
  /** Blind networks: entries listed without a voucher that opens, names them and is fresh (withheld or forged). */
  unvouched = 0;

  constructor(
    private readonly transport: DatagramTransport,
    network: string,
    rolodexes: readonly Endpoint[],
    localEndpoints: readonly Endpoint[],
    private readonly timings: RolodexTimings,
    private readonly timers: TimerSet,
    private readonly events: RolodexEvents,
    private readonly log: Logger,
    /** A blind network's keys; null for a plain one. */
    private readonly blind: BlindNetwork | null = null,
    /** We use relays: a rolodex that relays may carry our records (and deliver to us). */
    private readonly takesRelay = false,
  ) {
    this.startedAt = timers.now();
    this.localEndpoints = [...localEndpoints];
    // A blind network's LAN endpoints travel only inside our sealed voucher.
    const template: Heartbeat = blind
      ? { networkName: blind.tag, local: [], meshboi: true }
      : { networkName: network, local: this.localEndpoints, meshboi: true };
    if (takesRelay) template.relay = true;
    this.links = rolodexes.map((endpoint) => new RolodexLink(endpoint, template));
    for (const link of this.links) {
      this.byEndpoint.set(link.endpoint, link);
      this.byKey.set(link.key, link);
    }
    this.malformedLog = new RateLimitedLog(log);
  }

  /** Sends the first heartbeats now and the next ones every interval. */
  start(): void {
    this.beat();
    this.timers.every(this.timings.heartbeatMs, () => this.beat());
  }

  /** Whether the datagram came from a rolodex; if so it has been handled. */
  receive(data: Buffer, from: Endpoint): boolean {
    const link = this.byEndpoint.get(from.address, from.port);
    if (!link) return false;
    const decoded = decodeMap(data);
    if (!decoded.ok) {
      this.malformed++;
      this.malformedLog.warn(`malformed:${link.key}`, 'dropped a datagram from a rolodex that is not a map', { rolodex: link.key, error: decoded.error.message });
      return true;
    }
    const map = decoded.value;
    const now = this.timers.now();
    if (link.silent) this.log.info('rolodex answers', { rolodex: link.key });
    link.silent = false;
    link.lastMapAt = now;
    this.lastMapAt = now;
    const self = map.addresses[map.yourIndex];
    if (!link.self || formatEndpoint(link.self) !== formatEndpoint(self)) {
      this.log.info('learned our outside address', { rolodex: link.key, outside: formatEndpoint(self) });
    }
    link.self = self;
    // Each cookie datagram says again whether the rolodex relays (a restart may have changed it).
    if (map.cookie !== undefined) this.relaying(link, this.takesRelay && map.relay === true);
    const newCookie = link.takeCookie(map.cookie);
    // Our first voucher goes out at once: until the rolodex relays it, our blind peers ignore us.
    const newVoucher = this.blind !== null && link.vouch(this.blind, this.localEndpoints, now);
    if (newCookie || newVoucher) this.transport.send(link.heartbeat, link.endpoint.port, link.endpoint.address);
    for (let i = 0; i < map.addresses.length; i++) {
      if (i === map.yourIndex) continue;
      const outside = map.addresses[i];
      const key = formatEndpoint(outside);
      const relayTo = map.relayTo?.has(key) ?? false;
      if (this.blind) {
        const voucher = this.blind.openVoucher(map.opaque.get(key), outside, now);
        if (!voucher) {
          this.unvouched++;
          continue;
        }
        this.events.onListed({ outside, locals: voucher.locals, self, rolodex: link.key, relayTo });
        continue;
      }
      const locals = map.meshboi ? (map.local.get(key) ?? []) : null;
      this.events.onListed({ outside, locals, self, rolodex: link.key, relayTo });
    }
    for (const outside of map.gone) this.events.onGone(outside);
    return true;
  }

  /** The rolodex at `key` if it relays for us now: it said so and is not silent. */
  relayAt(key: string): RolodexRelayLink | undefined {
    const link = this.byKey.get(key);
    return link !== undefined && link.relays && !link.silent && link.cookieBytes !== null ? link : undefined;
  }

  /** The rolodexes that relay for us now, in the order they were configured. */
  relays(): RolodexRelayLink[] {
    const found: RolodexRelayLink[] = [];
    for (const link of this.links) {
      const relay = this.relayAt(link.key);
      if (relay) found.push(relay);
    }
    return found;
  }

  private relaying(link: RolodexLink, relays: boolean): void {
    if (relays === link.relays) return;
    link.relays = relays;
    this.log.info(relays ? 'rolodex relays for us' : 'rolodex no longer relays for us', { rolodex: link.key });
  }

  /** Our outside address as the rolodex that answered most recently sees it. */
  outsideAddress(): Endpoint | null {
    let best: RolodexLink | null = null;
    for (const link of this.links) if (link.self && (!best || (link.lastMapAt ?? 0) > (best.lastMapAt ?? 0))) best = link;
    return best?.self ?? null;
  }

  status(now: number): RolodexLinkStatus[] {
    return this.links.map((link) => ({
      address: link.key,
      lastMapAgoMs: link.lastMapAt === null ? null : now - link.lastMapAt,
      reachable: link.lastMapAt !== null && now - link.lastMapAt <= this.timings.silentAfterMs,
    }));
  }

  /** Heartbeats every rolodex, and reports each one that has newly gone silent. */
  private beat(): void {
    const now = this.timers.now();
    for (const link of this.links) {
      if (this.blind) link.vouch(this.blind, this.localEndpoints, now);
      this.transport.send(link.heartbeat, link.endpoint.port, link.endpoint.address);
      const quietSince = link.lastMapAt ?? this.startedAt;
      if (!link.silent && now - quietSince > this.timings.silentAfterMs) {
        link.silent = true;
        this.log.warn(link.lastMapAt === null ? 'no map from rolodex yet; still trying' : 'rolodex went silent; sessions stay up, still trying', {
          rolodex: link.key,
          silentForMs: now - quietSince,
        });
      }
    }
  }
}
