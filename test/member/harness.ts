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

export { eventually } from '../support/wait';

/** Counts of active handles by type (Timeout, UDPWRAP, ...), to compare before and after a test. */
export function activeHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Throws if any handle type has more live instances than in `before`, once closes had a moment to settle. */
export async function assertNoLeaks(before: Map<string, number>): Promise<void> {
  const leaked = (): Array<[string, number]> =>
    [...activeHandles()].filter(([kind, count]) => count > (before.get(kind) ?? 0) && kind !== 'Immediate' && kind !== 'Timeout');
  // A closed socket leaves the list a turn or two after its close callback; a leaked one never does.
  const deadline = Date.now() + 200;
  while (leaked().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const timers = activeHandles().get('Timeout') ?? 0;
  const left = leaked();
  if (timers > (before.get('Timeout') ?? 0)) left.push(['Timeout', timers]);
  if (left.length > 0) throw new Error(`leaked handles: ${left.map(([kind, count]) => `${kind} ${count} (was ${before.get(kind) ?? 0})`).join(', ')}`);
}
