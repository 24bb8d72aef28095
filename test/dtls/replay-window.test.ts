// Replay window tests: duplicates, reordering inside the window, records too old, slides longer than
// the window, sequence numbers near 2^48, and a reset for a new epoch.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ReplayWindow } from '../../src/dtls/replay-window';

function receive(window: ReplayWindow, sequence: number): boolean {
  if (!window.check(sequence)) return false;
  window.accept(sequence);
  return true;
}

test('a sequence number is accepted once', () => {
  const window = new ReplayWindow(64);
  assert.ok(receive(window, 0));
  assert.ok(!receive(window, 0));
  assert.ok(receive(window, 1));
  assert.ok(!receive(window, 1));
});

test('reordered records inside the window are accepted once each', () => {
  const window = new ReplayWindow(128);
  for (const sequence of [10, 5, 7, 6, 9, 8, 0]) assert.ok(receive(window, sequence), `first ${sequence}`);
  for (const sequence of [10, 5, 7, 6, 9, 8, 0]) assert.ok(!receive(window, sequence), `again ${sequence}`);
  assert.ok(receive(window, 1));
});

test('a record one window-length behind the highest is too old, one less is not', () => {
  const window = new ReplayWindow(128);
  window.accept(1000);
  assert.ok(!window.check(1000 - 128));
  assert.ok(window.check(1000 - 127));
});

test('check alone never marks a number as seen', () => {
  const window = new ReplayWindow(64);
  assert.ok(window.check(5));
  assert.ok(window.check(5));
  assert.equal(window.highestAccepted, -1);
});

test('a slide longer than the window forgets every old bit', () => {
  const window = new ReplayWindow(64);
  for (let sequence = 0; sequence < 64; sequence++) window.accept(sequence);
  window.accept(63 + 64 + 10);
  // Every slot of the bitmap was reused: numbers inside the new window that were never seen pass.
  for (let sequence = 64 + 10; sequence < 63 + 64 + 10; sequence++) assert.ok(window.check(sequence), `${sequence}`);
  assert.ok(!window.check(63 + 64 + 10));
  assert.ok(!window.check(63));
});

test('a slide shorter than the window clears exactly the skipped slots', () => {
  const window = new ReplayWindow(64);
  for (let sequence = 0; sequence < 64; sequence++) window.accept(sequence);
  window.accept(100);
  for (let sequence = 64; sequence < 100; sequence++) assert.ok(window.check(sequence), `${sequence}`);
  for (let sequence = 37; sequence < 64; sequence++) assert.ok(!window.check(sequence), `${sequence}`);
  assert.ok(!window.check(36));
});

test('sequence numbers near 2^48 keep their order and reject beyond 2^48 - 1', () => {
  const window = new ReplayWindow(256);
  const top = 2 ** 48 - 1;
  assert.ok(receive(window, top - 300));
  assert.ok(receive(window, top));
  assert.ok(!receive(window, top - 300));
  assert.ok(receive(window, top - 255));
  assert.ok(!window.check(top - 256));
  assert.ok(!window.check(top));
  assert.ok(!window.check(2 ** 48));
  // Numbers 2^32 apart must not alias, as they would with 32-bit arithmetic.
  const aliasing = new ReplayWindow(64);
  aliasing.accept(2 ** 32 + 5);
  assert.ok(!aliasing.check(5));
  assert.ok(aliasing.check(2 ** 32 + 4));
});

test('reset for a new epoch accepts sequence numbers from 0 again', () => {
  const window = new ReplayWindow();
  for (let sequence = 0; sequence < 500; sequence++) window.accept(sequence);
  assert.ok(!window.check(499));
  window.reset();
  assert.equal(window.highestAccepted, -1);
  assert.ok(receive(window, 0));
  assert.ok(receive(window, 499));
  assert.ok(!receive(window, 0));
});

test('window sizes that are not multiples of 32 or below 64 are refused', () => {
  assert.throws(() => new ReplayWindow(32), RangeError);
  assert.throws(() => new ReplayWindow(100), RangeError);
  assert.equal(new ReplayWindow().size, 256);
});

test('a window absorbed from a copy kept elsewhere knows every number either accepted', () => {
  const here = new ReplayWindow(64);
  for (const sequence of [1, 3]) receive(here, sequence);
  const elsewhere = new ReplayWindow(64);
  const handed = here.snapshot();
  elsewhere.absorb(handed.highest, handed.bits);
  for (const sequence of [2, 5, 100, 98]) assert.ok(receive(elsewhere, sequence), `elsewhere ${sequence}`);
  here.accept(4);
  const back = elsewhere.snapshot();
  here.absorb(back.highest, back.bits);
  for (const sequence of [98, 100, 4]) assert.ok(!here.check(sequence), `seen ${sequence}`);
  // Numbers the copy slid past count as too old; ones inside its window that nobody took stay open.
  assert.ok(!here.check(5));
  assert.ok(here.check(99));
  assert.ok(here.check(101));
  assert.throws(() => here.absorb(0, new Uint32Array(4)), /64 bits|128 bits/);
});
