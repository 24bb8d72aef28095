// Every timer the member starts goes through one TimerSet on the member's clock, so stop() can
// clear them all and tests can assert that none is left behind.
import type { Clock, ClockTimer } from '../clock';

export class TimerSet {
  private readonly live = new Set<ClockTimer>();

  constructor(readonly clock: Clock) {}

  now(): number {
    return this.clock.now();
  }

  after(ms: number, run: () => void): ClockTimer {
    const timer = this.clock.setTimeout(() => {
      this.live.delete(timer);
      run();
    }, ms);
    this.live.add(timer);
    return timer;
  }

  every(ms: number, run: () => void): ClockTimer {
    const timer = this.clock.setInterval(run, ms);
    this.live.add(timer);
    return timer;
  }

  cancel(timer: ClockTimer | null): void {
    if (!timer) return;
    this.clock.clear(timer);
    this.live.delete(timer);
  }

  clear(): void {
    for (const timer of this.live) this.clock.clear(timer);
    this.live.clear();
  }

  get size(): number {
    return this.live.size;
  }
}
