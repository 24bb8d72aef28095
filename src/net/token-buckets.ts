// Token buckets keyed by address (an IPv4 address or an IPv6 /64): the anti-amplification budgets
// of bytes the rolodex sends to each destination and a member sends toward unanswered endpoints,
// and the rates of joins and new networks from each source at the rolodex.
import { addressBytes } from '../rolodex-wire';

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly perSecond: number, private readonly burst: number) {}

  /** Takes `amount` from the key's bucket; false (and nothing taken) when it lacks that much. */
  take(key: string, amount: number, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, refilledAt: now };
      this.buckets.set(key, bucket);
    } else if (now > bucket.refilledAt) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.refilledAt) * this.perSecond) / 1000);
      bucket.refilledAt = now;
    }
    if (bucket.tokens < amount) return false;
    bucket.tokens -= amount;
    return true;
  }

  /**
   * Drops buckets unused for `idleMs` that have refilled completely (a fresh bucket would be the
   * same). Buckets in steady use are kept, so the map does not churn garbage every turn.
   */
  prune(now: number, idleMs: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.refilledAt < idleMs) continue;
      if (bucket.tokens + ((now - bucket.refilledAt) * this.perSecond) / 1000 >= this.burst) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * The budget key of an address: the IPv4 address itself, or the /64 of an IPv6 address, since
 * one IPv6 host (the victim of a spoof) usually owns its whole /64.
 */
export function budgetKey(address: string): string {
  if (!address.includes(':')) return address;
  const bytes = addressBytes(address);
  let key = '';
  for (let i = 0; i < 8; i++) key += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return `${key}::/64`;
}
