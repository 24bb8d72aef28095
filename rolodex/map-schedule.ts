// When the rolodex sends maps: a newcomer's join announced to its network (spaced by the join
// flush), members still owed part of the list caught up a few datagrams per pass, and every
// member's map interval ended on a timer wheel that spreads networks (and the members of a large
// one) over the interval, so maps do not all leave at once. What goes out, and within which
// budget, is the server's (MapSender).
import type { Clock, ClockTimer } from '../src/clock';
import { encodeChunkDatagram, encodeGoneDatagram } from '../src/rolodex-wire';
import { Network, type Member } from './network';

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
/** Extra spacing of join announcements per member of the network, in ms. */
const JOIN_FLUSH_MS_PER_MEMBER = 0.2;

export interface ScheduleTimings {
  mapIntervalMs: number;
  forgetAfterMs: number;
  joinFlushMs: number;
  /** How long the list of a new member of ours waits for the echo of its first cookie. */
  cookieEchoWaitMs: number;
}

/** The server's side of the schedule: sending within budgets, and its own books. */
export interface MapSender {
  /** Sends within the destination's budget; false when the budget held it back. */
  send(member: Member, datagram: Buffer, now: number): boolean;
  /** A fresh cookie for the member, if its proof needs one. */
  sendCookie(member: Member, now: number): void;
  /** Members forgotten at the end of their interval; an emptied network is then removed(). */
  forgot(count: number): void;
  removed(network: Network): void;
  /** Once per turn of the wheel: per-address state idle for two map intervals may go. */
  prune(now: number): void;
}

export class MapSchedule {
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
  private readonly slotMs: number;
  private passTimer: ClockTimer | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** Catch-up datagrams still allowed in this pass. */
  private catchUpAllowance = CATCH_UP_DATAGRAMS_PER_PASS_TOTAL;

  constructor(
    private readonly timings: ScheduleTimings,
    private readonly clock: Clock,
    private readonly sender: MapSender,
  ) {
    const slots = Math.max(1, Math.round(timings.mapIntervalMs / Math.min(PASS_MS, timings.mapIntervalMs)));
    this.wheel = Array.from({ length: slots }, () => new Set<Network>());
    this.slotMs = timings.mapIntervalMs / slots;
  }

  start(): void {
    if (this.passTimer) return;
    this.slotDueAt = this.clock.now() + this.slotMs;
    this.passTimer = this.clock.setInterval(() => this.pass(), this.slotMs);
  }

  stop(): void {
    if (this.passTimer) this.clock.clear(this.passTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.passTimer = this.immediate = null;
  }

  /** A new network, on the wheel slot just passed, so its first map interval ends a whole interval from now. */
  newNetwork(name: string): Network {
    const slot = (this.wheelPosition + this.wheel.length - 1) % this.wheel.length;
    const network = new Network(name, slot);
    this.wheel[slot].add(network);
    return network;
  }

  /** Members still owed part of their network's list (newcomers, or announcements not yet sent). */
  catchingUp(): number {
    let count = 0;
    for (const network of this.active) count += network.lagging.size;
    return count;
  }

  /** A member joined `network` (or changed its LAN endpoints): everyone hears of it at the next flush. */
  announceJoin(network: Network, now: number): void {
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
    return network.lastFlushAt + this.timings.joinFlushMs + network.members.size * JOIN_FLUSH_MS_PER_MEMBER;
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
    // A destination in use hears from us every interval; only older state may go.
    if (this.wheelPosition === 0) this.sender.prune(now);
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
    const forgotten = network.forgetSilent(now - this.timings.forgetAfterMs, GONE_REPEATS, phase, phases);
    if (forgotten > 0) this.sender.forgot(forgotten);
    if (network.members.size === 0) {
      this.remove(network);
      return;
    }
    const gone = network.goneLists();
    for (const member of network.members.values()) {
      if (member.seq % phases !== phase) continue;
      if (member.cursor < network.nextSeq) this.catchUp(network, member, now);
      else this.sendRotation(network, member, now);
      if (!member.meshboi) continue;
      for (const list of gone) this.sender.send(member, encodeGoneDatagram(list, member.entry), now);
      this.sender.sendCookie(member, now);
    }
    if (phase !== phases - 1) return;
    network.endTick();
    if (network.members.size > SPREAD_ABOVE_MEMBERS) this.spread.add(network);
    else if (network.members.size <= SPREAD_ABOVE_MEMBERS / 2) this.spread.delete(network);
  }

  private remove(network: Network): void {
    this.wheel[network.slot].delete(network);
    this.spread.delete(network);
    this.active.delete(network);
    this.due.delete(network);
    this.sender.removed(network);
  }

  /**
   * Sends a member the chunks from its cursor on, a few per pass and within the pass's overall
   * allowance; it stays lagging (served again next pass) until it has them all.
   */
  private catchUp(network: Network, member: Member, now: number): void {
    const view = network.view(member.meshboi);
    const lastSeq = network.lastSeq();
    const awaitingEcho = member.meshboi && member.verifiedCookie === null && now - member.firstCookieAt < this.timings.cookieEchoWaitMs;
    for (let sent = 0; sent < CATCH_UP_DATAGRAMS_PER_PASS && this.catchUpAllowance > 0 && !awaitingEcho; sent++) {
      const index = view.indexFor(member.cursor, lastSeq);
      if (index < 0) {
        member.cursor = network.nextSeq;
        break;
      }
      if (!this.sender.send(member, encodeChunkDatagram(view.chunks[index], member.entry, member.meshboi), now)) break;
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
    this.sender.send(member, encodeChunkDatagram(chunk, member.entry, member.meshboi), now);
  }
}
