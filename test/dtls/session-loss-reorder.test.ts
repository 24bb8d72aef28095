// Handshakes over a bad path: the in-memory network drops 20% of datagrams and holds back a
// quarter of the rest so they arrive out of order; every handshake completes and data flows.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { InFlight } from '../../src/net/memory-network';
import { activeHandles, assertNoLeaks, eventually } from '../member/harness';
import { sleep } from '../support/wait';
import { SessionPair } from './session-pair';

/** A small seeded generator (mulberry32) so each run sees the same losses. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class LossyPath {
  readonly held = new Set<NodeJS.Timeout>();
  dropped = 0;
  reordered = 0;
  pair: SessionPair | null = null;

  constructor(private readonly random: () => number) {}

  intercept = (datagram: InFlight): InFlight | null => {
    const roll = this.random();
    if (roll < 0.2) {
      this.dropped++;
      return null;
    }
    if (roll < 0.4) {
      // Held back 1-40 ms, so datagrams sent after it overtake it.
      this.reordered++;
      const timer = setTimeout(() => {
        this.held.delete(timer);
        const to = datagram.to.port === 6000 ? 'server' : 'client';
        this.pair!.deliver(to, datagram.data);
      }, 1 + Math.floor(this.random() * 40));
      this.held.add(timer);
      return null;
    }
    return datagram;
  };

  stop(): void {
    for (const timer of this.held) clearTimeout(timer);
    this.held.clear();
  }
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`with 20% loss and reordering the handshake completes and data flows (seed ${seed})`, async () => {
    const before = activeHandles();
    const path = new LossyPath(seeded(seed));
    const pair = new SessionPair({ interceptor: path.intercept, retransmitInitialMs: 20, retransmitMaxTries: 12 });
    path.pair = pair;
    try {
      pair.client.start();
      await eventually('both established', () => pair.established, 10_000);
      const packets = 60;
      for (let i = 0; i < packets; i++) {
        pair.client.send(Buffer.from(`c${i}`));
        pair.server!.send(Buffer.from(`s${i}`));
      }
      await sleep(80);
      for (const [events, prefix] of [
        [pair.serverEvents, 'c'],
        [pair.clientEvents, 's'],
      ] as const) {
        const received = events.data.map((d) => d.toString());
        assert.ok(received.length >= packets / 2, `${received.length} of ${packets} arrived`);
        assert.equal(new Set(received).size, received.length, 'no packet delivered twice');
        assert.ok(received.every((text) => text.startsWith(prefix)));
      }
      assert.ok(path.dropped > 0 && path.reordered > 0);
    } finally {
      path.stop();
      await pair.close();
    }
    await assertNoLeaks(before);
  });
}
