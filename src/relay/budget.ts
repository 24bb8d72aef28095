// What a relay lets through per pair of members (docs/relays.md): a token bucket of bytes per
// second with a burst, and the counters `meshboi status` shows (pairs, packets, bytes forwarded).
// No I/O: the caller asks allow() for each frame and sends it only on true.

export interface RelayLimits {
  /** Bytes per second one ordered pair (from, to) may send through the relay. */
  pairBytesPerSecond: number;
  /** What a pair may send at once after a quiet spell. */
  pairBurstBytes: number;
  /** Pairs tracked at most; a new pair beyond it is refused (bounds the relay's memory). */
  maxPairs: number;
}

export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimits> = {
  // 10 MB/s per direction and pair: a bulk transfer through a relay, not a whole network's.
  pairBytesPerSecond: 10_000_000,
  pairBurstBytes: 1_000_000,
  maxPairs: 4_096,
};

interface Pair {
  tokens: number;
  refilledAt: number;
  lastUsedAt: number;
  packets: number;
  bytes: number;
}

export interface RelayPairStatus {
  from: string;
  to: string;
  packets: number;
  bytes: number;
}

export interface RelayCounters {
  pairs: number;
  packets: number;
  bytes: number;
  /** Frames refused: over a pair's budget, too many pairs, or no session with the destination. */
  refused: { over_budget: number; too_many_pairs: number; no_route: number };
}

/** Pairs silent this long are forgotten, so maxPairs counts pairs in use. */
const PAIR_IDLE_MS = 120_000;

export class RelayBudget {
  private readonly pairs = new Map<string, Pair>();
  readonly counters: RelayCounters = { pairs: 0, packets: 0, bytes: 0, refused: { over_budget: 0, too_many_pairs: 0, no_route: 0 } };

  constructor(private readonly limits: RelayLimits) {}

  /** Whether `bytes` from `from` to `to` fit the pair's budget now; counts them if so. */
  allow(from: string, to: string, bytes: number, now: number): boolean {
    const key = `${from}>${to}`;
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      if (this.pairs.size >= this.limits.maxPairs) this.forgetIdle(now);
      if (this.pairs.size >= this.limits.maxPairs) {
        this.counters.refused.too_many_pairs++;
        return false;
      }
      pair = { tokens: this.limits.pairBurstBytes, refilledAt: now, lastUsedAt: now, packets: 0, bytes: 0 };
      this.pairs.set(key, pair);
      this.counters.pairs = this.pairs.size;
    }
    pair.tokens = Math.min(this.limits.pairBurstBytes, pair.tokens + ((now - pair.refilledAt) * this.limits.pairBytesPerSecond) / 1_000);
    pair.refilledAt = now;
    if (pair.tokens < bytes) {
      this.counters.refused.over_budget++;
      return false;
    }
    pair.tokens -= bytes;
    pair.lastUsedAt = now;
    pair.packets++;
    pair.bytes += bytes;
    this.counters.packets++;
    this.counters.bytes += bytes;
    return true;
  }

  noRoute(): void {
    this.counters.refused.no_route++;
  }

  pairStatus(): RelayPairStatus[] {
    return [...this.pairs.entries()].map(([key, pair]) => {
      const [from, to] = key.split('>');
      return { from, to, packets: pair.packets, bytes: pair.bytes };
    });
  }

  private forgetIdle(now: number): void {
    for (const [key, pair] of this.pairs) if (now - pair.lastUsedAt > PAIR_IDLE_MS) this.pairs.delete(key);
    this.counters.pairs = this.pairs.size;
  }
}
