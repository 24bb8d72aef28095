// Polling helpers shared by the in-process tests that run on real time: wait for a condition
// with a deadline, or just wait.

/** Polls `condition` every few milliseconds; throws with `what` if it does not hold in time. */
export async function eventually(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export { setTimeout as sleep } from 'node:timers/promises';
