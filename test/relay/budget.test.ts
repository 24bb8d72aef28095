// A relay's budget per pair: a burst, then the rate; a bounded number of pairs; the counters status shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayBudget } from '../../src/relay/budget';

test('a pair gets its burst at once, then its rate, each direction on its own', () => {
  const budget = new RelayBudget({ pairBytesPerSecond: 1_000, pairBurstBytes: 2_000, maxPairs: 10 });
  assert.equal(budget.allow('a', 'b', 2_000, 0), true);
  assert.equal(budget.allow('a', 'b', 1, 0), false, 'the burst is spent');
  assert.equal(budget.allow('b', 'a', 2_000, 0), true, 'the other direction has its own');
  assert.equal(budget.allow('a', 'b', 500, 500), true, 'half a second refills 500 bytes');
  assert.equal(budget.allow('a', 'b', 500, 500), false);
  assert.deepEqual(budget.counters, { pairs: 2, packets: 3, bytes: 4_500, refused: { over_budget: 2, too_many_pairs: 0, no_route: 0 } });
  assert.deepEqual(budget.pairStatus(), [
    { from: 'a', to: 'b', packets: 2, bytes: 2_500 },
    { from: 'b', to: 'a', packets: 1, bytes: 2_000 },
  ]);
});

test('pairs beyond the limit are refused until idle ones are forgotten', () => {
  const budget = new RelayBudget({ pairBytesPerSecond: 1_000, pairBurstBytes: 1_000, maxPairs: 1 });
  assert.equal(budget.allow('a', 'b', 1, 0), true);
  assert.equal(budget.allow('a', 'c', 1, 1_000), false);
  assert.equal(budget.counters.refused.too_many_pairs, 1);
  assert.equal(budget.allow('a', 'c', 1, 200_000), true, 'a->b has been idle for two minutes');
});
