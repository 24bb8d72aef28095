// Logging for every component: winston with a level and a text or JSON format chosen on the CLI.
import winston from 'winston';

export type LogFormat = 'text' | 'json';
export type Logger = winston.Logger;

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

const root = winston.createLogger({
  level: 'info',
  transports: [new winston.transports.Console({ stderrLevels: [...LOG_LEVELS] })],
  format: textFormat(),
});

function textFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp(),
    winston.format.printf((info) => {
      const { timestamp, level, message, component, ...rest } = info;
      const fields = Object.entries(rest)
        .filter(([key]) => typeof key === 'string')
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      const scope = component ? ` [${String(component)}]` : '';
      return `${String(timestamp)} ${level.toUpperCase()}${scope} ${String(message)}${fields ? ' ' + fields : ''}`;
    }),
  );
}

export function configureLogging(level: string, format: LogFormat): void {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`unknown log level "${level}": use one of ${LOG_LEVELS.join(', ')}`);
  }
  root.level = level;
  root.format = format === 'json' ? winston.format.combine(winston.format.timestamp(), winston.format.json()) : textFormat();
}

export function logger(component: string): Logger {
  return root.child({ component });
}

/**
 * Logs at most once per interval per key, counting what it held back, so a flood of bad input
 * cannot flood the log.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1024,
    /** Where time comes from: a member passes its clock, so simulated time decides what repeats. */
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, message: string, fields: Record<string, unknown> = {}): void {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    if (!entry && this.last.size >= this.maxKeys) this.last.clear();
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    this.log.warn(message, suppressed ? { ...fields, suppressed } : fields);
  }
}
