// The bound on what a member sends toward endpoints that never answered (hellos, ClientHellos and
// their retransmits), whoever listed them: a token bucket per destination address and one for all,
// so spoofed heartbeats or a lying rolodex cannot aim the members of a network at a victim.
import type { Clock } from '../clock';
import { budgetKey, TokenBuckets } from '../net/token-buckets';

/** Bytes toward one IPv4 address (or IPv6 /64) that never answered: at once, and per second after. */
export const UNANSWERED_ADDRESS_BURST = 2_048;
export const UNANSWERED_ADDRESS_PER_SECOND = 256;
/** Bytes toward all endpoints that never answered together: enough to reach a few hundred new peers at once. */
export const UNANSWERED_TOTAL_BURST = 65_536;
export const UNANSWERED_TOTAL_PER_SECOND = 16_384;
/** Idle buckets are dropped this often, so a flood of listed addresses leaves no lasting state. */
const PRUNE_EVERY_MS = 60_000;
const TOTAL = 'total';

export class UnansweredBudget {
  private readonly perAddress = new TokenBuckets(UNANSWERED_ADDRESS_PER_SECOND, UNANSWERED_ADDRESS_BURST);
  private readonly total = new TokenBuckets(UNANSWERED_TOTAL_PER_SECOND, UNANSWERED_TOTAL_BURST);
  private prunedAt: number;
  /** Datagrams not sent because a bucket was empty. */
  refused = 0;

  constructor(private readonly clock: Clock) {
    this.prunedAt = clock.now();
  }

  /** Takes `bytes` toward `address` from both buckets; false (nothing to send) when either lacks them. */
  take(address: string, bytes: number): boolean {
    const now = this.clock.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.perAddress.prune(now, PRUNE_EVERY_MS);
      this.prunedAt = now;
    }
    // The address's bucket first: a send it refuses costs the total nothing.
    if (this.perAddress.take(budgetKey(address), bytes, now) && this.total.take(TOTAL, bytes, now)) return true;
    this.refused++;
    return false;
  }
}
