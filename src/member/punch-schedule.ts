// When a punching round sends what, so that it survives NATs that keep stray conntrack state
// (docs/punching.md): every round opens our NAT with a datagram that dies before the peer's, waits,
// then sends at full TTL; rounds that keep failing go quiet long enough for stray entries to expire
// and start again on a wall-clock grid both sides share, so both open before either knocks.

export interface PunchTimings {
  /** TTL of the opening datagram: past our NAT, not as far as the peer's (docs/punching.md); 0 sends none. */
  openingTtl: number;
  /** From the opening datagram to the first full-TTL one: how late the peer may learn of us and still open first. */
  openingWaitMs: number;
  /**
   * Silence toward a peer after which the stray entries our datagrams left on its NAT, and those
   * its datagrams left on ours, have expired (Linux's unreplied UDP timeout is 30 s).
   */
  quietMs: number;
  /** Delay before the first retry of a failed round; doubles per failure, jittered. */
  retryInitialMs: number;
  retryMaxMs: number;
}

/** Failed rounds after which the next ones wait out a quiet period and start on the shared grid. */
export const QUIET_AFTER_FAILURES = 7;

/**
 * Milliseconds from `now` until the round after `failures` failed ones. The first few follow an
 * exponential, capped backoff with ±25% jitter so two racing sides drift apart. After that (with
 * opening datagrams on; without them the grid would not help and the backoff goes on) a round
 * starts at a multiple of twice the quiet period on the wall clock (at least one quiet period
 * away): two members whose rounds fail because each knocked before the other opened (one learned
 * of the other too late) fall onto the same grid point, both silent for a quiet period before it,
 * and open together. Twice the quiet period leaves room for a round's own sends (the handshake's
 * retransmissions), so a side whose round ran late still picks the same next point as its peer.
 */
export function retryDelay(failures: number, now: number, timings: PunchTimings, random: () => number = Math.random): number {
  if (failures >= QUIET_AFTER_FAILURES && timings.openingTtl > 0) {
    // No jitter here: it would scatter the two sides over different grid points.
    const period = 2 * timings.quietMs;
    return Math.ceil((now + timings.quietMs) / period) * period - now;
  }
  const base = Math.min(timings.retryMaxMs, timings.retryInitialMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(base * (0.75 + random() * 0.5));
}
