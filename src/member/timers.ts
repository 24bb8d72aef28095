// Every timer the member starts goes through one TimerSet, so stop() can clear them all and
// tests can assert that none is left behind.

export class TimerSet {
  private readonly live = new Set<NodeJS.Timeout>();

  after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.live.delete(timer);
      run();
    }, ms);
    this.live.add(timer);
    return timer;
  }

  every(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setInterval(run, ms);
    this.live.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout | null): void {
    if (!timer) return;
    clearTimeout(timer);
    this.live.delete(timer);
  }

  clear(): void {
    for (const timer of this.live) clearTimeout(timer);
    this.live.clear();
  }

  get size(): number {
    return this.live.size;
  }
}
