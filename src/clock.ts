// The time seam: code that schedules takes `now()` and its timers from a Clock it is given, so a
// test steps time with a ManualClock instead of sleeping; the composition roots pass systemClock.

/** A pending timer, opaque to its owner: only the clock that made it can clear it. */
export type ClockTimer = object;

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /** Runs `run` once, `ms` from now (at least 1 ms, as Node's timers). */
  setTimeout(run: () => void, ms: number): ClockTimer;
  /** Runs `run` every `ms` until cleared. */
  setInterval(run: () => void, ms: number): ClockTimer;
  /** Stops a timer or interval; a timer that already ran or was cleared is ignored. */
  clear(timer: ClockTimer): void;
}

/** Wall-clock time and Node's own timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  setInterval: (run, ms) => setInterval(run, ms),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

interface ManualTimer {
  dueAt: number;
  /** Order of creation: timers due at the same moment run in the order they were set. */
  order: number;
  run: () => void;
  /** The period of an interval; null for a one-shot timer. */
  everyMs: number | null;
}

/**
 * A clock that moves only when told: time stands still between calls, and timers run inside
 * runNext() or advance(), earliest first, each at its own due time. Tests own it; nothing else does.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly pending = new Set<ManualTimer>();
  private created = 0;

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(run: () => void, ms: number): ClockTimer {
    return this.add(run, ms, null);
  }

  setInterval(run: () => void, ms: number): ClockTimer {
    return this.add(run, ms, Math.max(1, ms));
  }

  clear(timer: ClockTimer): void {
    this.pending.delete(timer as ManualTimer);
  }

  /** Timers and intervals not yet cleared (a one-shot timer leaves once it ran). */
  get size(): number {
    return this.pending.size;
  }

  /** When the earliest pending timer is due; null when none is. */
  nextDueAt(): number | null {
    return this.earliest()?.dueAt ?? null;
  }

  /**
   * Moves to the earliest timer due at or before `until` and runs it; false (time unchanged) when
   * none is. An interval is set again one period after the time it was due.
   */
  runNext(until: number): boolean {
    const timer = this.earliest();
    if (!timer || timer.dueAt > until) return false;
    this.current = Math.max(this.current, timer.dueAt);
    if (timer.everyMs === null) this.pending.delete(timer);
    else {
      timer.dueAt += timer.everyMs;
      timer.order = this.created++;
    }
    timer.run();
    return true;
  }

  /** Runs every timer due within `ms`, in order, then stands at now + ms. */
  advance(ms: number): void {
    const until = this.current + ms;
    while (this.runNext(until));
    this.current = until;
  }

  private add(run: () => void, ms: number, everyMs: number | null): ManualTimer {
    const timer: ManualTimer = { dueAt: this.current + Math.max(1, ms), order: this.created++, run, everyMs };
    this.pending.add(timer);
    return timer;
  }

  private earliest(): ManualTimer | undefined {
    let found: ManualTimer | undefined;
    for (const timer of this.pending) {
      if (!found || timer.dueAt < found.dueAt || (timer.dueAt === found.dueAt && timer.order < found.order)) found = timer;
    }
    return found;
  }
}
