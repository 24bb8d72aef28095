// One network's members in join order, with the map chunks rendered from them (rebuilt only
// after a change) and the members recently forgotten, still to be announced as `Gone`.
import { packChunks, packGone, type MapChunk, type RenderedEntry } from '../src/rolodex-wire';

export class Member {
  /** Position in the network's join order; a member whose LAN endpoints change gets a new one. */
  seq = -1;
  /** Every member with a smaller seq has been sent to this one. */
  cursor = 0;
  removed = false;
  /** When the member last echoed a cookie that proved it receives our datagrams at its address. */
  verifiedAt = Number.NEGATIVE_INFINITY;
  /** That cookie: echoing it again needs no new check. */
  verifiedCookie: string | null = null;
  /** When the member was last sent a cookie, and its first one. */
  cookieSentAt = Number.NEGATIVE_INFINITY;
  firstCookieAt = Number.NEGATIVE_INFINITY;
  /** The opaque field of its last heartbeat, relayed unread beside its entry. */
  opaque: string | undefined = undefined;
  /** Its last heartbeat said it takes relay frames (`Meshboi.Relay`). */
  takesRelay = false;
  /** verifiedCookie's bytes, which its relay frames carry (compared in constant time). */
  verifiedCookieBytes: Buffer | null = null;

  constructor(
    readonly address: string,
    readonly port: number,
    public entry: RenderedEntry,
    readonly budgetKey: string,
    public meshboi: boolean,
    public lastHeardAt: number,
  ) {}
}

/** Chunks over the join order, and the seq of each chunk's first member, for cursor lookups. */
export class ChunkView {
  constructor(readonly chunks: readonly MapChunk[], private readonly starts: readonly number[]) {}

  /** The chunk holding the first member with seq >= cursor, or -1 when none is that new. */
  indexFor(cursor: number, lastSeq: number): number {
    if (this.chunks.length === 0 || cursor > lastSeq) return -1;
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle] <= cursor) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The cursor once chunk `index` has been sent: the seq of the next chunk's first member. */
  cursorAfter(index: number, nextSeq: number): number {
    return index + 1 < this.starts.length ? this.starts[index + 1] : nextSeq;
  }
}

interface Forgotten {
  quoted: string;
  key: string;
  ticksLeft: number;
}

export class Network {
  readonly members = new Map<string, Member>();
  /** Members by ascending seq; removed ones linger until the next rebuild. */
  private order: Member[] = [];
  private views: { plain: ChunkView | null; extended: ChunkView | null } = { plain: null, extended: null };
  private forgotten: Forgotten[] = [];
  private goneCache: string[] | null = null;
  nextSeq = 0;
  /** Map intervals this network has seen; drives each member's slow rotation. */
  ticks = 0;
  lastFlushAt = Number.NEGATIVE_INFINITY;
  /** Members joined since the last announcement to everyone. */
  joinPending = false;
  /** Members still owed chunks (their cursor is behind), served a few datagrams at a time. */
  readonly lagging = new Set<Member>();

  constructor(readonly name: string, readonly slot: number) {}

  /** Appends a newcomer (or a member whose entry changed) at the end of the join order. */
  append(member: Member): void {
    member.seq = this.nextSeq++;
    this.members.set(member.entry.key, member);
    this.order.push(member);
    this.invalidate();
    const index = this.forgotten.findIndex((item) => item.key === member.entry.key);
    if (index >= 0) {
      this.forgotten.splice(index, 1);
      this.goneCache = null;
    }
  }

  /** Moves a member whose entry changed to the end, so everyone hears of it as of a newcomer; returns it as moved. */
  reappend(member: Member, entry: RenderedEntry): Member {
    const moved = new Member(member.address, member.port, entry, member.budgetKey, member.meshboi, member.lastHeardAt);
    moved.cursor = member.cursor;
    moved.verifiedAt = member.verifiedAt;
    moved.verifiedCookie = member.verifiedCookie;
    moved.verifiedCookieBytes = member.verifiedCookieBytes;
    moved.takesRelay = member.takesRelay;
    moved.cookieSentAt = member.cookieSentAt;
    moved.firstCookieAt = member.firstCookieAt;
    this.drop(member);
    this.append(moved);
    return moved;
  }

  /** Gives a member a new rendering in its place: maps rendered from now on carry it, nobody is told at once. */
  replaceEntry(member: Member, entry: RenderedEntry): void {
    member.entry = entry;
    this.invalidate();
  }

  /**
   * Removes the members of `phase` (seq modulo `phases`) not heard from since `cutoff`; they are
   * announced as Gone `goneRepeats` times.
   */
  forgetSilent(cutoff: number, goneRepeats: number, phase: number, phases: number): number {
    let count = 0;
    for (const member of this.members.values()) {
      if (member.lastHeardAt >= cutoff || member.seq % phases !== phase) continue;
      this.drop(member);
      this.forgotten.push({ quoted: member.entry.quoted, key: member.entry.key, ticksLeft: goneRepeats });
      this.goneCache = null;
      count++;
    }
    return count;
  }

  /** `Gone` lists (each fits one datagram) of members forgotten in the last few intervals. */
  goneLists(): readonly string[] {
    this.goneCache ??= packGone(this.forgotten.map((item) => item.quoted));
    return this.goneCache;
  }

  /** Ends a map interval: forgotten members are announced a limited number of times. */
  endTick(): void {
    this.ticks++;
    if (this.forgotten.length === 0) return;
    for (const item of this.forgotten) item.ticksLeft--;
    this.forgotten = this.forgotten.filter((item) => item.ticksLeft > 0);
    this.goneCache = null;
  }

  /** The chunks for extension-aware (`extended`) or original recipients, rendered on demand. */
  view(extended: boolean): ChunkView {
    const cached = extended ? this.views.extended : this.views.plain;
    if (cached) return cached;
    if (this.order.length !== this.members.size) this.order = this.order.filter((member) => !member.removed);
    const chunks = packChunks(
      this.order.map((member) => member.entry),
      extended,
    );
    const starts: number[] = [];
    let position = 0;
    for (const chunk of chunks) {
      starts.push(this.order[position].seq);
      position += chunk.entries.length;
    }
    const view = new ChunkView(chunks, starts);
    if (extended) this.views.extended = view;
    else this.views.plain = view;
    return view;
  }

  /** The seq of the newest member, or -1 when the network is empty. */
  lastSeq(): number {
    for (let i = this.order.length - 1; i >= 0; i--) if (!this.order[i].removed) return this.order[i].seq;
    return -1;
  }

  private drop(member: Member): void {
    member.removed = true;
    this.members.delete(member.entry.key);
    this.lagging.delete(member);
    this.invalidate();
  }

  private invalidate(): void {
    this.views = { plain: null, extended: null };
  }
}
