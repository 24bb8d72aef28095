// Simulated time and datagrams for the in-process tests (members, rolodex), as Nebula's e2e router
// steps packets: one ManualClock for every member, rolodex and DTLS session, and a MemoryNetwork
// whose datagrams move only when stepped. Time advances timer by timer and every datagram due is
// delivered in between, so a test runs as fast as the CPU allows and the same on a loaded machine.
import { ManualClock } from '../../src/clock';
import { MemoryNetwork, type InFlight } from '../../src/net/memory-network';

/** Rounds of delivery without time passing after which a test is surely looping (a datagram storm). */
const MAX_ROUNDS = 10_000;

/** One turn of the event loop: promise continuations and setImmediate callbacks queued so far run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Simulation {
  readonly clock = new ManualClock();
  readonly network = new MemoryNetwork({ clock: this.clock });
  /** Datagrams the test holds back to step itself, in the order it chooses; the rest move on their own. */
  held: (datagram: InFlight) => boolean = () => false;

  constructor() {
    this.network.manual = true;
  }

  /** Delivers every datagram queued and not held, and those they cause, without moving time. */
  async settle(): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      await turn();
      if (this.network.step(Infinity, (datagram) => !this.held(datagram)) === 0) return;
    }
    throw new Error(`datagrams still flowing after ${MAX_ROUNDS} rounds without time passing`);
  }

  /** Moves time `ms` forward: each timer runs at its due time, with the datagrams it causes delivered before the next. */
  async run(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    await this.settle();
    while (this.clock.runNext(until)) await this.settle();
    this.clock.advance(until - this.clock.now());
  }

  /** Moves time forward until `condition` holds, looking after every timer; fails once `withinMs` have passed. */
  async until(what: string, condition: () => boolean, withinMs = 5000): Promise<void> {
    const deadline = this.clock.now() + withinMs;
    await this.settle();
    while (!condition()) {
      if (!this.clock.runNext(deadline)) throw new Error(`not within ${withinMs} ms of simulated time: ${what}`);
      await this.settle();
    }
  }

  /** Fails if a timer outlived the parts that set it (every member, rolodex and session stopped). */
  assertNoTimersLeft(): void {
    if (this.clock.size > 0) throw new Error(`leaked ${this.clock.size} timers on the simulated clock`);
  }
}
