// Shared pieces of the member tests: a captured logger, polling until a condition holds, and a
// check that a test left no timers or sockets of its own behind.
import winston from 'winston';
import Transport from 'winston-transport';

export class LogCapture extends Transport {
  readonly lines: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
  count(message: string | RegExp): number {
    return this.lines.filter((line) => (typeof message === 'string' ? line.message === message : message.test(String(line.message)))).length;
  }
}

export function capturedLogger(): { log: winston.Logger; capture: LogCapture } {
  const capture = new LogCapture();
  return { log: winston.createLogger({ level: 'debug', transports: [capture] }), capture };
}

/** Polls `condition` every few milliseconds; throws with `what` if it does not hold in time. */
export async function eventually(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts of active handles by type (Timeout, UDPWRAP, ...), to compare before and after a test. */
export function activeHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Throws if any handle type has more live instances than in `before` (after a turn for closes to settle). */
export async function assertNoLeaks(before: Map<string, number>): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const after = activeHandles();
  const leaked = [...after].filter(([kind, count]) => count > (before.get(kind) ?? 0) && kind !== 'Immediate');
  if (leaked.length > 0) throw new Error(`leaked handles: ${leaked.map(([kind, count]) => `${kind} ${count} (was ${before.get(kind) ?? 0})`).join(', ')}`);
}
