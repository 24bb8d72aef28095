// The rolodex: registers members from heartbeats, tells each network's members about each other
// in maps of at most 1,200 bytes, and forgets silent members, all within fixed bounds.
//
// Traffic grows linearly with a network's size: a newcomer is sent the whole list (a few chunks
// per pass), everyone else only the chunk(s) holding the newcomers, and once per map interval
// every member gets one chunk of a slow rotation, which repairs losses and keeps its NAT
// mapping open. Networks are spread over a timer wheel so map intervals do not all fall at once.
// Started with `--relay` it also forwards relay frames between members of a network (relay.ts).
import { timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock, type ClockTimer } from '../src/clock';
import type { DatagramTransport, Endpoint } from '../src/net/transport';
import { formatEndpoint } from '../src/net/transport';
import { logger, RateLimitedLog } from '../src/log';
import {
  decodeHeartbeat,
  encodeChunkDatagram,
  encodeCookieDatagram,
  encodeGoneDatagram,
  renderEntry,
  type Heartbeat,
  type RenderedEntry,
  type RolodexCodecReason,
} from '../src/rolodex-wire';
import { Member, Network } from './network';
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

/** Granularity of the timer wheel and of catch-up passes. */
const PASS_MS = 100;
/** Wall time one pass may spend catching up on wheel slots that a late timer left due. */
const PASS_BUDGET_MS = 50;
/** Datagrams one member is sent per pass while catching up, so its socket buffer keeps up. */
const CATCH_UP_DATAGRAMS_PER_PASS = 16;
/**
 * Catch-up datagrams across all networks per pass: sends queue their buffers until the socket
 * takes them, so this bounds the memory a burst of joins can pin (about 6 MB).
 */
const CATCH_UP_DATAGRAMS_PER_PASS_TOTAL = 5000;
/** How many map intervals a forgotten member is announced as Gone, in case one is lost. */
const GONE_REPEATS = 3;
/**
 * A network with more members than this has its map interval spread over every slot of the wheel
 * (each member in the slot its seq picks), so its maps leave evenly rather than in one burst.
 */
const SPREAD_ABOVE_MEMBERS = 500;
/**
 * How long the list of a new member of ours waits for the echo of its first cookie: about a
 * round trip makes it verified and exempt from the budget, which meanwhile goes to the cookies of
 * others behind the same address instead of to lists that would leave it empty.
 */
const COOKIE_ECHO_WAIT_MS = 500;
/** Extra spacing of join announcements per member of the network, in ms. */
const JOIN_FLUSH_MS_PER_MEMBER = 0.2;

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
  private readonly cookieEchoWaitMs: number;
  private readonly networks = new Map<string, Network>();
  /** Networks with a pending join announcement or members still catching up. */
  private readonly active = new Set<Network>();
  /** Active networks whose join announcement may go out at once (served on the next turn). */
  private readonly due = new Set<Network>();
  private readonly wheel: Array<Set<Network>>;
  /** Networks over SPREAD_ABOVE_MEMBERS, served a slice of members in every slot. */
  private readonly spread = new Set<Network>();
  private wheelPosition = 0;
  /** When the slot at wheelPosition is due; a late timer serves every slot due since. */
  private slotDueAt = 0;
  private slotMs = PASS_MS;
  private memberCount = 0;
  private passTimer: ClockTimer | null = null;
  private summaryTimer: ClockTimer | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** Catch-up datagrams still allowed in this pass. */
  private catchUpAllowance = CATCH_UP_DATAGRAMS_PER_PASS_TOTAL;
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
    // Never so long that a member heartbeating at the forget time's pace would be forgotten first.
    this.cookieEchoWaitMs = Math.min(COOKIE_ECHO_WAIT_MS, this.options.forgetAfterMs / 4);
    const slots = Math.max(1, Math.round(this.options.mapIntervalMs / Math.min(PASS_MS, this.options.mapIntervalMs)));
    this.wheel = Array.from({ length: slots }, () => new Set<Network>());
    this.slotMs = this.options.mapIntervalMs / slots;
  }

  start(): void {
    if (this.passTimer) return;
    this.transport.onMessage((data, from) => this.receive(data, from));
    this.slotDueAt = this.clock.now() + this.slotMs;
    this.passTimer = this.clock.setInterval(() => this.pass(), this.slotMs);
    if (this.options.summaryIntervalMs > 0) {
      this.summaryTimer = this.clock.setInterval(() => this.logSummary(), this.options.summaryIntervalMs);
    }
  }

  /** Stops every timer and closes the transport; nothing is sent afterwards. */
  async stop(): Promise<void> {
    if (this.passTimer) this.clock.clear(this.passTimer);
    if (this.summaryTimer) this.clock.clear(this.summaryTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.passTimer = this.summaryTimer = this.immediate = null;
    this.transport.onMessage(() => {});
    await this.transport.close();
  }

  stats(): RolodexStats {
    let catchingUp = 0;
    for (const network of this.active) catchingUp += network.lagging.size;
    return {
      networks: this.networks.size,
      members: this.memberCount,
      ...this.counters,
      catchingUp,
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
      if (heartbeat.local.length === 0 && known.entry.localJson === '' && heartbeat.opaque === known.opaque) return;
      this.changed(network, known, renderEntry(from, heartbeat.local, heartbeat.opaque), heartbeat.opaque, now);
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
      // The slot just passed, so the network's first map interval ends a whole interval from now.
      const slot = (this.wheelPosition + this.wheel.length - 1) % this.wheel.length;
      network = new Network(heartbeat.networkName, slot);
      this.networks.set(network.name, network);
      this.wheel[slot].add(network);
    } else if (network.members.size >= this.options.maxMembersPerNetwork) {
      this.drop('network_full', `refused a member: its network holds the limit of ${this.options.maxMembersPerNetwork} members (--max-members-per-network)`, from);
      return;
    }
    const member = new Member(from.address, from.port, renderEntry(from, heartbeat.local, heartbeat.opaque), source, heartbeat.meshboi, now);
    member.opaque = heartbeat.opaque;
    member.takesRelay = heartbeat.relay === true;
    network.append(member);
    this.relay?.registered(network, member.entry.key);
    this.memberCount++;
    this.counters.joins++;
    this.checkCookie(member, heartbeat.cookie, now);
    if (member.meshboi) this.sendCookie(member, now);
    this.announceJoin(network, now);
  }

  /**
   * A known member's heartbeat with other LAN endpoints or another opaque field. New LAN endpoints,
   * or a first opaque field, are announced like a newcomer (a blind network's members try nobody
   * without one). A changed opaque field (a blind member's voucher, resealed every minute) only
   * replaces the entry in place: later maps and the rotation carry it, so a minute's refresh of
   * every member costs no announcement to everyone.
   */
  private changed(network: Network, member: Member, entry: RenderedEntry, opaque: string | undefined, now: number): void {
    const first = member.opaque === undefined && opaque !== undefined;
    if (entry.localJson !== member.entry.localJson || first) {
      network.reappend(member, entry).opaque = opaque;
      this.announceJoin(network, now);
    } else if (opaque !== member.opaque) {
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
    if (!this.send(member, encodeCookieDatagram(this.cookies.issue(member.entry.key, now), member.entry, this.relay !== null && member.takesRelay), now)) return;
    member.cookieSentAt = now;
    if (member.firstCookieAt === Number.NEGATIVE_INFINITY) member.firstCookieAt = now;
  }

  private drop(reason: DropReason, message: string, from: Endpoint): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.refusals.warn(reason, message, { from: formatEndpoint(from) });
  }

  // -------------------------------------------------------------------------------------------
  // Scheduling: join announcements, catch-up passes, the map-interval wheel.

  private announceJoin(network: Network, now: number): void {
    network.joinPending = true;
    this.active.add(network);
    if (now < this.nextFlushAt(network)) return;
    this.due.add(network);
    this.immediate ??= setImmediate(() => {
      this.immediate = null;
      const later = this.clock.now();
      for (const network of this.due) this.serve(network, later);
      this.due.clear();
    });
  }

  private nextFlushAt(network: Network): number {
    return network.lastFlushAt + this.options.joinFlushMs + network.members.size * JOIN_FLUSH_MS_PER_MEMBER;
  }

  /**
   * Serves the wheel slots that have come due: several when the timer ran late, so map intervals
   * keep their length on a busy machine, but only for PASS_BUDGET_MS. Past that the rest is
   * skipped (those intervals stretch) rather than sent in one long burst during which no
   * heartbeat is read, which would only make the next pass later still. Then catch-ups advance.
   */
  private pass(): void {
    const now = this.clock.now();
    this.catchUpAllowance = CATCH_UP_DATAGRAMS_PER_PASS_TOTAL;
    for (let served = 0; now >= this.slotDueAt && served < this.wheel.length; served++) {
      if (served > 0 && this.clock.now() - now > PASS_BUDGET_MS) break;
      this.endSlot(now);
      this.slotDueAt += this.slotMs;
    }
    if (now >= this.slotDueAt) this.slotDueAt = now + this.slotMs;
    for (const network of this.active) this.serve(network, now);
  }

  /** One wheel slot: its networks, and one phase of every spread network, end a map interval. */
  private endSlot(now: number): void {
    const position = this.wheelPosition;
    const length = this.wheel.length;
    this.wheelPosition = (position + 1) % length;
    for (const network of this.wheel[position]) if (!this.spread.has(network)) this.endInterval(network, now, 0, 1);
    // A spread network's last phase falls on its own slot, where it would end as a whole.
    for (const network of this.spread) this.endInterval(network, now, (position - network.slot - 1 + 2 * length) % length, length);
    // A destination in use hears from us every interval; only older buckets may go.
    if (this.wheelPosition === 0) {
      this.budget.prune(now, 2 * this.options.mapIntervalMs);
      this.joinRate.prune(now, 2 * this.options.mapIntervalMs);
      this.networkRate.prune(now, 2 * this.options.mapIntervalMs);
      this.relay?.prune(now, 2 * this.options.mapIntervalMs);
    }
  }

  /** Announces the network's joins if their spacing has passed, else advances lagging members. */
  private serve(network: Network, now: number): void {
    if (network.joinPending && now >= this.nextFlushAt(network)) {
      network.joinPending = false;
      network.lastFlushAt = now;
      for (const member of network.members.values()) this.catchUp(network, member, now);
    } else {
      for (const member of network.lagging) this.catchUp(network, member, now);
    }
    if (!network.joinPending && network.lagging.size === 0) this.active.delete(network);
  }

  /**
   * The end of the map interval for the members of `phase` (seq modulo `phases`): forget the
   * silent, then one datagram (or more) each. The interval is over once the last phase is done.
   */
  private endInterval(network: Network, now: number, phase: number, phases: number): void {
    const forgotten = network.forgetSilent(now - this.options.forgetAfterMs, GONE_REPEATS, phase, phases);
    if (forgotten > 0) {
      this.memberCount -= forgotten;
      this.counters.forgotten += forgotten;
    }
    if (network.members.size === 0) {
      this.removeNetwork(network);
      return;
    }
    const gone = network.goneLists();
    for (const member of network.members.values()) {
      if (member.seq % phases !== phase) continue;
      if (member.cursor < network.nextSeq) this.catchUp(network, member, now);
      else this.sendRotation(network, member, now);
      if (!member.meshboi) continue;
      for (const list of gone) this.send(member, encodeGoneDatagram(list, member.entry), now);
      this.sendCookie(member, now);
    }
    if (phase !== phases - 1) return;
    network.endTick();
    if (network.members.size > SPREAD_ABOVE_MEMBERS) this.spread.add(network);
    else if (network.members.size <= SPREAD_ABOVE_MEMBERS / 2) this.spread.delete(network);
  }

  private removeNetwork(network: Network): void {
    this.networks.delete(network.name);
    this.wheel[network.slot].delete(network);
    this.spread.delete(network);
    this.active.delete(network);
    this.due.delete(network);
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  /**
   * Sends a member the chunks from its cursor on, a few per pass and within the pass's overall
   * allowance; it stays lagging (served again next pass) until it has them all.
   */
  private catchUp(network: Network, member: Member, now: number): void {
    const view = network.view(member.meshboi);
    const lastSeq = network.lastSeq();
    const awaitingEcho = member.meshboi && member.verifiedCookie === null && now - member.firstCookieAt < this.cookieEchoWaitMs;
    for (let sent = 0; sent < CATCH_UP_DATAGRAMS_PER_PASS && this.catchUpAllowance > 0 && !awaitingEcho; sent++) {
      const index = view.indexFor(member.cursor, lastSeq);
      if (index < 0) {
        member.cursor = network.nextSeq;
        break;
      }
      if (!this.send(member, encodeChunkDatagram(view.chunks[index], member.entry, member.meshboi), now)) break;
      member.cursor = view.cursorAfter(index, network.nextSeq);
      this.catchUpAllowance--;
    }
    if (member.cursor < network.nextSeq) {
      network.lagging.add(member);
      this.active.add(network);
    } else {
      network.lagging.delete(member);
    }
  }

  private sendRotation(network: Network, member: Member, now: number): void {
    const view = network.view(member.meshboi);
    const chunk = view.chunks[(member.seq + network.ticks) % view.chunks.length];
    this.send(member, encodeChunkDatagram(chunk, member.entry, member.meshboi), now);
  }

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
