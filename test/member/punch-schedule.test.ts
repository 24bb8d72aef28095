// The punching schedule: a jittered exponential backoff for the first failed rounds, then rounds on
// a wall-clock grid of twice the quiet period, at least one quiet period away, the same for both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QUIET_AFTER_FAILURES, retryDelay, type PunchTimings } from '../../src/member/punch-schedule';

const TIMINGS: PunchTimings = { openingTtl: 2, openingWaitMs: 1_000, quietMs: 32_000, retryInitialMs: 2_000, retryMaxMs: 60_000 };

test('the first failed rounds back off exponentially with ±25% jitter', () => {
  for (const [random, factor] of [
    [0, 0.75],
    [1, 1.25],
  ] as const) {
    assert.deepEqual(
      [1, 2].map((failures) => retryDelay(failures, 5_000, TIMINGS, () => random)),
      [2_000 * factor, 4_000 * factor],
    );
  }
});

test('later rounds start on the grid, at least a quiet period away, whatever the jitter', () => {
  const period = 64_000;
  for (const now of [0, 1, 31_999, 32_000, 32_001, 100_000]) {
    for (const random of [0, 0.5, 1]) {
      const delay = retryDelay(QUIET_AFTER_FAILURES, now, TIMINGS, () => random);
      assert.equal((now + delay) % period, 0, `now ${now}`);
      assert.ok(delay >= TIMINGS.quietMs && delay < TIMINGS.quietMs + period, `now ${now}: ${delay}`);
    }
  }
});

test('two sides whose rounds failed up to a quiet period apart meet on one grid point, or the earlier one the next', () => {
  // Side A failed at 10 s, side B at 40 s: A comes at 64 s (B's sends ended 24 s before and its
  // round ran at most that long), B at 128 s; A's round at 64 s failed at 64 s + a round, so it comes at 128 s too.
  const a = 10_000 + retryDelay(QUIET_AFTER_FAILURES, 10_000, TIMINGS);
  const b = 40_000 + retryDelay(QUIET_AFTER_FAILURES, 40_000, TIMINGS);
  assert.deepEqual([a, b], [64_000, 128_000]);
  assert.equal(64_000 + 20_000 + retryDelay(QUIET_AFTER_FAILURES + 1, 84_000, TIMINGS), b);
});

test('without opening hellos the grid would not help, so the backoff goes on', () => {
  const delay = retryDelay(10, 0, { ...TIMINGS, openingTtl: 0 }, () => 0.5);
  assert.equal(delay, 60_000);
});
