// The rolodex: registers members from heartbeats, tells each network's members about each other
// in maps of at most 1,200 bytes, and forgets silent members, all within fixed bounds.
//
// Traffic grows linearly with a network's size: a newcomer is sent the whole list (a few chunks
// per pass), everyone else only the chunk(s) holding the newcomers, and once per map interval
// every member gets one chunk of a slow rotation, which repairs losses and keeps its NAT
// mapping open; when each goes out is map-schedule.ts's. Started with `--relay` it also forwards
// relay frames between members of a network (relay.ts).
import { timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock, type ClockTimer } from '../src/clock';
import type { DatagramTransport, Endpoint } from '../src/net/transport';
import { formatEndpoint } from '../src/net/transport';
import { logger, RateLimitedLog } from '../src/log';
import { decodeHeartbeat, encodeCookieDatagram, renderEntry, type Heartbeat, type RenderedEntry, type RolodexCodecReason } from '../src/rolodex-wire';
import { MapSchedule } from './map-schedule';
import { Member, type Network } from './network';
import { resolveOptions, type RolodexOptions } from './options';
import { ReachabilityCookies } from './reachability-cookies';
import { budgetKey, TokenBuckets } from '../src/net/token-buckets';
import { decodeRolodexFrame, isRolodexFrame } from '../src/relay/rolodex-frame';
import { RelayCodecError } from '../src/relay/wire';
import { RolodexRelay, type ForwardRefusal, type RelayRefusal } from './relay';

export type RefusalReason = 'name_too_long' | 'too_many_networks' | 'network_full' | 'rolodex_full' | 'join_rate' | 'network_rate';
export type DropReason = RolodexCodecReason | RefusalReason | RelayRefusal;

export interface RolodexStats {
  networks: number;
  members: number;
  datagramsIn: number;
  bytesIn: number;
  heartbeats: number;
  joins: number;
  forgotten: number;
  datagramsOut: number;
  bytesOut: number;
  /** Datagrams not sent because their destination's byte budget was spent. */
  throttled: number;
  /** Cookies echoed back that proved a member receives our datagrams at its address. */
  verifications: number;
  /** Members still owed part of their network's list (newcomers, or announcements not yet sent). */
  catchingUp: number;
  /** Relay frames forwarded (`--relay`), and the bytes of the deliver frames sent for them. */
  relayedFrames: number;
  relayedBytes: number;
  /** Received datagrams dropped, by reason (malformed input, refused registrations and relay frames). */
  drops: Partial<Record<DropReason, number>>;
}

/** What the log says of each refused relay frame (at most once per 10 s per reason). */
const RELAY_REFUSALS: Record<ForwardRefusal, string> = {
  relay_unverified: 'refused a relay frame: its sender is no member that takes relay frames and proved its address with its current cookie',
  relay_no_route: 'refused a relay frame: it names no member of a network its sender is in that takes relay frames',
  relay_endpoint_budget: 'refused a relay frame: its sender spent its relay budget (--relay-endpoint-budget)',
  relay_network_budget: 'refused a relay frame: its network spent its relay budget (--relay-network-budget)',
};

/**
 * How long the list of a new member of ours waits for the echo of its first cookie: about a
 * round trip makes it verified and exempt from the budget, which meanwhile goes to the cookies of
 * others behind the same address instead of to lists that would leave it empty.
 */
const COOKIE_ECHO_WAIT_MS = 500;

export class RolodexServer {
  private readonly options: RolodexOptions;
  private readonly log = logger('rolodex');
  private readonly refusals: RateLimitedLog;
  private readonly budget: TokenBuckets;
  private readonly joinRate: TokenBuckets;
  private readonly networkRate: TokenBuckets;
  private readonly cookies: ReachabilityCookies;
  /** Null unless started with `relay` (off by default). */
  private readonly relay: RolodexRelay | null;
  private readonly networks = new Map<string, Network>();
  private readonly schedule: MapSchedule;
  private memberCount = 0;
  private started = false;
  private summaryTimer: ClockTimer | null = null;
  private readonly counters = {
    datagramsIn: 0,
    bytesIn: 0,
    heartbeats: 0,
    joins: 0,
    forgotten: 0,
    datagramsOut: 0,
    bytesOut: 0,
    throttled: 0,
    verifications: 0,
  };
  private readonly drops: Partial<Record<DropReason, number>> = {};

  constructor(
    private readonly transport: DatagramTransport,
    options: Partial<RolodexOptions> = {},
    /** Where time and the pass timers come from; tests step a ManualClock. */
    private readonly clock: Clock = systemClock,
  ) {
    this.options = resolveOptions(options);
    this.refusals = new RateLimitedLog(this.log);
    this.budget = new TokenBuckets(this.options.budgetBytesPerSecond, this.options.budgetBurstBytes);
    this.joinRate = new TokenBuckets(this.options.joinsPerSecond, this.options.joinBurst);
    this.networkRate = new TokenBuckets(this.options.networksPerSecond, this.options.networkBurst);
    // The secret turns over every half of the forget time, so the cookie sent to renew a proof half
    // way to expiring (sendCookie) is always a new one: the same cookie again would be echoed as
    // before, prove nothing new, and leave the member unverified (its relay frames refused) once
    // the forget time had passed, until the next turn of the secret.
    this.cookies = new ReachabilityCookies(this.options.forgetAfterMs / 2, this.clock.now());
    this.relay = this.options.relay ? new RolodexRelay(this.options, this.networks, (member, cookie, now) => this.relayProven(member, cookie, now)) : null;
    const timings = {
      ...this.options,
      // Never so long that a member heartbeating at the forget time's pace would be forgotten first.
      cookieEchoWaitMs: Math.min(COOKIE_ECHO_WAIT_MS, this.options.forgetAfterMs / 4),
    };
    this.schedule = new MapSchedule(timings, this.clock, {
      send: (member, datagram, now) => this.send(member, datagram, now),
      sendCookie: (member, now) => this.sendCookie(member, now),
      forgot: (count) => {
        this.memberCount -= count;
        this.counters.forgotten += count;
      },
      removed: (network) => this.networks.delete(network.name),
      prune: (now) => this.prune(now),
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.transport.onMessage((data, from) => this.receive(data, from));
    this.schedule.start();
    if (this.options.summaryIntervalMs > 0) {
      this.summaryTimer = this.clock.setInterval(() => this.logSummary(), this.options.summaryIntervalMs);
    }
  }

  /** Stops every timer and closes the transport; nothing is sent afterwards. */
  async stop(): Promise<void> {
    this.schedule.stop();
    if (this.summaryTimer) this.clock.clear(this.summaryTimer);
    this.summaryTimer = null;
    this.started = false;
    this.transport.onMessage(() => {});
    await this.transport.close();
  }

  stats(): RolodexStats {
    return {
      networks: this.networks.size,
      members: this.memberCount,
      ...this.counters,
      catchingUp: this.schedule.catchingUp(),
      relayedFrames: this.relay?.counters.frames ?? 0,
      relayedBytes: this.relay?.counters.bytes ?? 0,
      drops: { ...this.drops },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Receiving heartbeats.

  private receive(data: Buffer, from: Endpoint): void {
    this.counters.datagramsIn++;
    this.counters.bytesIn += data.length;
    if (isRolodexFrame(data)) return this.relayFrame(data, from);
    const decoded = decodeHeartbeat(data);
    if (!decoded.ok) {
      this.drop(decoded.error.reason, `dropped a datagram that is not a valid heartbeat: ${decoded.error.message}`, from);
      return;
    }
    this.counters.heartbeats++;
    this.heartbeat(decoded.value, from, this.clock.now());
  }

  /** A relay frame from one of our members: on to the member it names, if relay.ts allows. */
  private relayFrame(data: Buffer, from: Endpoint): void {
    if (this.relay === null) {
      this.drop('relay_off', 'dropped a relay frame: this rolodex does not relay (start it with --relay to)', from);
      return;
    }
    let frame;
    try {
      frame = decodeRolodexFrame(data);
    } catch (error) {
      if (!(error instanceof RelayCodecError)) throw error;
      this.drop('relay_malformed', `dropped a relay frame: ${error.message}`, from);
      return;
    }
    if (frame.type !== 'forward') {
      this.drop('relay_malformed', 'dropped a deliver frame: only a rolodex sends those', from);
      return;
    }
    const outcome = this.relay.forward(from, frame.cookie, frame.peer, frame.payload, this.clock.now());
    if (typeof outcome === 'string') {
      this.drop(outcome, RELAY_REFUSALS[outcome], from);
      return;
    }
    this.transport.send(outcome.datagram, outcome.to.port, outcome.to.address);
  }

  /**
   * A member we relay for: it takes relay frames and echoed a cookie lately (so it receives at its
   * address); a frame's `cookie` must be the one it echoed, or one we issued for it since. A frame
   * with such a newer cookie renews the proof as its echo would: the member took the cookie, and
   * its heartbeat echoing it is on the way or lost among the frames of a flood, which would leave
   * the proof to expire. (A member's first proof comes from a heartbeat.)
   */
  private relayProven(member: Member, cookie: Buffer | null, now: number): boolean {
    if (!member.takesRelay) return false;
    if (cookie === null) return this.isVerified(member, now);
    if (member.verifiedCookieBytes !== null && !echoed(member, cookie)) this.checkCookie(member, cookie.toString('base64url'), now);
    return echoed(member, cookie) && this.isVerified(member, now);
  }

  private heartbeat(heartbeat: Heartbeat, from: Endpoint, now: number): void {
    const key = formatEndpoint(from);
    let network = this.networks.get(heartbeat.networkName);
    const known = network?.members.get(key);
    if (network && known) {
      known.lastHeardAt = now;
      known.meshboi = heartbeat.meshboi;
      known.takesRelay = heartbeat.relay === true;
      this.checkCookie(known, heartbeat.cookie, now);
      // A cookie the budget held back goes with the next heartbeat rather than a whole interval later.
      if (known.meshboi) this.sendCookie(known, now);
      const relayTo = this.relaysTo(known.takesRelay);
      if (heartbeat.local.length === 0 && known.entry.localJson === '' && heartbeat.opaque === known.opaque && relayTo === (known.entry.relayJson !== '')) return;
      this.changed(network, known, renderEntry(from, heartbeat.local, heartbeat.opaque, relayTo), heartbeat.opaque, now);
      return;
    }
    if (Buffer.byteLength(heartbeat.networkName) > this.options.maxNameBytes) {
      this.drop('name_too_long', `refused a network name over ${this.options.maxNameBytes} bytes (--max-name-bytes)`, from);
      return;
    }
    if (this.memberCount >= this.options.maxMembers) {
      this.drop('rolodex_full', `refused a member: the rolodex holds its limit of ${this.options.maxMembers} members (--max-members)`, from);
      return;
    }
    // Per-source rates come before any state is made, so a flood of new names costs a lookup each.
    const source = budgetKey(from.address);
    if (!this.joinRate.take(source, 1, now)) {
      this.drop('join_rate', `refused a member: its source registers more than ${this.options.joinsPerSecond} per second (--join-rate)`, from);
      return;
    }
    if (!network) {
      if (this.networks.size >= this.options.maxNetworks) {
        this.drop('too_many_networks', `refused a new network: the limit of ${this.options.maxNetworks} networks is reached (--max-networks)`, from);
        return;
      }
      if (!this.networkRate.take(source, 1, now)) {
        this.drop('network_rate', `refused a new network: its source creates more than ${this.options.networksPerSecond} per second (--network-rate)`, from);
        return;
      }
      network = this.schedule.newNetwork(heartbeat.networkName);
      this.networks.set(network.name, network);
    } else if (network.members.size >= this.options.maxMembersPerNetwork) {
      this.drop('network_full', `refused a member: its network holds the limit of ${this.options.maxMembersPerNetwork} members (--max-members-per-network)`, from);
      return;
    }
    const takesRelay = heartbeat.relay === true;
    const member = new Member(from.address, from.port, renderEntry(from, heartbeat.local, heartbeat.opaque, this.relaysTo(takesRelay)), source, heartbeat.meshboi, now);
    member.opaque = heartbeat.opaque;
    member.takesRelay = takesRelay;
    network.append(member);
    this.relay?.registered(network, member.entry.key);
    this.memberCount++;
    this.counters.joins++;
    this.checkCookie(member, heartbeat.cookie, now);
    if (member.meshboi) this.sendCookie(member, now);
    this.schedule.announceJoin(network, now);
  }

  /**
   * Whether maps and cookies list a member that takes relay frames (or not) in `RelayTo`: only when
   * we relay. Its peers then try it through us, and never one we would refuse as `relay_no_route`
   * (an original member).
   */
  private relaysTo(takesRelay: boolean): boolean {
    return this.relay !== null && takesRelay;
  }

  /**
   * A known member's heartbeat with other LAN endpoints, another opaque field or another `Relay`.
   * New LAN endpoints, or a first opaque field, are announced like a newcomer (a blind network's
   * members try nobody without one). A changed opaque field (a blind member's voucher, resealed
   * every minute) or relay flag only replaces the entry in place: later maps and the rotation
   * carry it, so a minute's refresh of every member costs no announcement to everyone.
   */
  private changed(network: Network, member: Member, entry: RenderedEntry, opaque: string | undefined, now: number): void {
    const first = member.opaque === undefined && opaque !== undefined;
    if (entry.localJson !== member.entry.localJson || first) {
      network.reappend(member, entry).opaque = opaque;
      this.schedule.announceJoin(network, now);
    } else if (opaque !== member.opaque || entry.relayJson !== member.entry.relayJson) {
      network.replaceEntry(member, entry);
      member.opaque = opaque;
    }
  }

  /**
   * A cookie echoed in a heartbeat: if we issued it for this endpoint, the member reads our
   * datagrams there, so the per-destination budget need not protect it (see send()).
   */
  private checkCookie(member: Member, cookie: string | undefined, now: number): void {
    if (cookie === undefined || cookie === member.verifiedCookie) return;
    if (!this.cookies.verify(member.entry.key, cookie, now)) return;
    member.verifiedAt = now;
    member.verifiedCookie = cookie;
    member.verifiedCookieBytes = Buffer.from(cookie, 'base64url');
    this.counters.verifications++;
  }

  private isVerified(member: Member, now: number): boolean {
    return now - member.verifiedAt <= this.options.forgetAfterMs;
  }

  /**
   * A fresh cookie for a member of ours whose proof is missing or half way to expiring, at most
   * every quarter of the forget time, so one that never echoes costs little.
   */
  private sendCookie(member: Member, now: number): void {
    const quarter = this.options.forgetAfterMs / 4;
    if (now - member.verifiedAt <= 2 * quarter || now - member.cookieSentAt < quarter) return;
    if (!this.send(member, encodeCookieDatagram(this.cookies.issue(member.entry.key, now), member.entry, this.relaysTo(member.takesRelay)), now)) return;
    member.cookieSentAt = now;
    if (member.firstCookieAt === Number.NEGATIVE_INFINITY) member.firstCookieAt = now;
  }

  private drop(reason: DropReason, message: string, from: Endpoint): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.refusals.warn(reason, message, { from: formatEndpoint(from) });
  }

  /** Once per turn of the map wheel: a destination in use hears from us every interval, so only older buckets may go. */
  private prune(now: number): void {
    const idleMs = 2 * this.options.mapIntervalMs;
    this.budget.prune(now, idleMs);
    this.joinRate.prune(now, idleMs);
    this.networkRate.prune(now, idleMs);
    this.relay?.prune(now, idleMs);
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  /**
   * Sends within the destination's byte budget, which bounds what spoofed heartbeats can aim at a
   * victim. A member that echoed a cookie lately is exempt: it proved it reads our datagrams at
   * that endpoint, so they are its own maps, and a crowd of ours behind one address is not rationed.
   */
  private send(member: Member, datagram: Buffer, now: number): boolean {
    if (!this.isVerified(member, now) && !this.budget.take(member.budgetKey, datagram.length, now)) {
      this.counters.throttled++;
      return false;
    }
    this.transport.send(datagram, member.port, member.address);
    this.counters.datagramsOut++;
    this.counters.bytesOut += datagram.length;
    return true;
  }

  private logSummary(): void {
    const stats = this.stats();
    const drops = Object.values(stats.drops).reduce((sum, count) => sum + count, 0);
    this.log.info('summary', {
      networks: stats.networks,
      members: stats.members,
      datagramsIn: stats.datagramsIn,
      datagramsOut: stats.datagramsOut,
      heartbeats: stats.heartbeats,
      joins: stats.joins,
      forgotten: stats.forgotten,
      drops,
      throttled: stats.throttled,
      verifications: stats.verifications,
      catchingUp: stats.catchingUp,
      budgetDestinations: this.budget.size,
      ...(this.relay ? { relayedFrames: stats.relayedFrames, relayedBytes: stats.relayedBytes, relayEndpoints: this.relay.endpoints } : {}),
    });
  }
}

/** Whether `cookie` is the one the member last proved itself with (compared in constant time). */
function echoed(member: Member, cookie: Buffer): boolean {
  return member.verifiedCookieBytes !== null && timingSafeEqual(cookie, member.verifiedCookieBytes);
}
