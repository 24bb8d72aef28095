// The logging setup: levels are checked and the rate limiter holds back repeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import winston from 'winston';
import Transport from 'winston-transport';
import { configureLogging, RateLimitedLog } from '../../src/log';

class Capture extends Transport {
  readonly lines: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

test('an unknown log level is refused with the valid choices', () => {
  assert.throws(() => configureLogging('chatty', 'text'), /use one of error, warn, info, debug/);
});

test('the rate-limited log emits once per interval and reports what it suppressed', () => {
  const capture = new Capture();
  const log = winston.createLogger({ level: 'debug', transports: [capture] });
  let now = 1_000;
  const limited = new RateLimitedLog(log, 50, 1024, () => now);
  for (let i = 0; i < 5; i++) limited.warn('bad-json', 'dropped malformed datagram');
  assert.equal(capture.lines.length, 1);
  now += 49;
  limited.warn('bad-json', 'dropped malformed datagram');
  assert.equal(capture.lines.length, 1, 'still within the interval');
  now += 1;
  limited.warn('bad-json', 'dropped malformed datagram');
  assert.equal(capture.lines.length, 2);
  assert.equal(capture.lines[1].suppressed, 5);
});
