// The anti-amplification budget: a token bucket of bytes per destination (an IPv4 address or an
// IPv6 /64), so spoofed heartbeats cannot aim more than a fixed byte rate at any victim.
import { addressBytes } from '../src/rolodex-wire';

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export class SendBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly bytesPerSecond: number, private readonly burstBytes: number) {}

  /** Takes `bytes` from the destination's bucket; false (and nothing taken) when it lacks them. */
  take(destination: string, bytes: number, now: number): boolean {
    let bucket = this.buckets.get(destination);
    if (!bucket) {
      bucket = { tokens: this.burstBytes, refilledAt: now };
      this.buckets.set(destination, bucket);
    } else if (now > bucket.refilledAt) {
      bucket.tokens = Math.min(this.burstBytes, bucket.tokens + ((now - bucket.refilledAt) * this.bytesPerSecond) / 1000);
      bucket.refilledAt = now;
    }
    if (bucket.tokens < bytes) return false;
    bucket.tokens -= bytes;
    return true;
  }

  /**
   * Drops buckets unused for `idleMs` that have refilled completely (a fresh bucket would be the
   * same). Buckets in steady use are kept, so the map does not churn garbage every turn.
   */
  prune(now: number, idleMs: number): void {
    for (const [destination, bucket] of this.buckets) {
      if (now - bucket.refilledAt < idleMs) continue;
      if (bucket.tokens + ((now - bucket.refilledAt) * this.bytesPerSecond) / 1000 >= this.burstBytes) {
        this.buckets.delete(destination);
      }
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
