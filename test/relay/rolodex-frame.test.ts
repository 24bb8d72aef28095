// The rolodex relay codec: frames round-trip, are never taken for a heartbeat, a map or a DTLS
// record (nor those for a frame), a deliver frame is never larger than the forward frame it
// answers, and any bytes decode to a frame or a RelayCodecError that says what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeHeartbeat, encodeCookieDatagram, encodeHeartbeat, renderEntry } from '../../src/rolodex-wire';
import {
  COOKIE_BYTES,
  decodeRolodexFrame,
  deliverFrameBytes,
  encodeRolodexFrame,
  isRolodexFrame,
  MAX_ROLODEX_FRAME_HEADER_BYTES,
  type RolodexFrame,
} from '../../src/relay/rolodex-frame';
import { RelayCodecError } from '../../src/relay/wire';

const COOKIE = Buffer.alloc(COOKIE_BYTES, 0xc0);
const V4 = { address: '203.0.113.7', port: 41234 };
const V6 = { address: '2001:db8::7', port: 6264 };

test('forward and deliver frames round-trip with IPv4 and IPv6 endpoints', () => {
  const frames: RolodexFrame[] = [
    { type: 'forward', cookie: COOKIE, peer: V4, payload: Buffer.from('a DTLS record') },
    { type: 'forward', cookie: COOKIE, peer: V6, payload: Buffer.alloc(0) },
    { type: 'deliver', peer: V4, payload: Buffer.from([23, 254, 253]) },
    { type: 'deliver', peer: { address: '::1', port: 1 }, payload: Buffer.alloc(1_400, 7) },
  ];
  for (const frame of frames) {
    const bytes = encodeRolodexFrame(frame);
    assert.ok(isRolodexFrame(bytes));
    assert.deepEqual(decodeRolodexFrame(bytes), frame);
    assert.ok(bytes.length - frame.payload.length <= MAX_ROLODEX_FRAME_HEADER_BYTES);
    if (frame.type === 'deliver') assert.equal(bytes.length, deliverFrameBytes(frame.peer, frame.payload.length));
  }
});

test('a deliver frame is never larger than the forward frame it answers, whatever the address families', () => {
  const payload = Buffer.alloc(1_200);
  for (const sender of [V4, V6]) {
    for (const receiver of [V4, V6]) {
      const forward = encodeRolodexFrame({ type: 'forward', cookie: COOKIE, peer: receiver, payload });
      const deliver = encodeRolodexFrame({ type: 'deliver', peer: sender, payload });
      assert.ok(deliver.length <= forward.length, `${sender.address} to ${receiver.address}: ${deliver.length} > ${forward.length}`);
    }
  }
});

test('a frame is never a heartbeat, a map or a DTLS record, and none of those is a frame', () => {
  const frame = encodeRolodexFrame({ type: 'forward', cookie: COOKIE, peer: V4, payload: Buffer.from('{"NetworkName":"x"}') });
  assert.equal(decodeHeartbeat(frame).ok, false);
  const heartbeat = encodeHeartbeat({ networkName: 'home', local: [], meshboi: true, relay: true });
  const cookie = encodeCookieDatagram('AAAAAAAAAAAAAAAA', renderEntry(V4, []), true);
  assert.ok(!isRolodexFrame(heartbeat) && !isRolodexFrame(cookie));
  assert.ok(!isRolodexFrame(Buffer.from(' {"NetworkName":"x"}')), 'JSON may start with whitespace');
  // DTLS content types 20 to 25, and the member's `hello` (an unassigned content type, 0).
  for (const type of [0, 20, 21, 22, 23, 24, 25]) assert.ok(!isRolodexFrame(Buffer.of(type, 0xfe, 0xfd)), `content type ${type}`);
  assert.ok(!isRolodexFrame(Buffer.alloc(0)));
});

test('malformed frames are refused with what was wrong', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.of(0x7b, 1), /not a rolodex relay frame/],
    [Buffer.of(0xfb), /cut short before its type/],
    [Buffer.of(0xfb, 9), /unknown rolodex relay frame type 0x09/],
    [Buffer.of(0xfb, 1, ...COOKIE.subarray(0, 5)), /cut short in its cookie/],
    [Buffer.of(0xfb, 1, ...COOKIE), /cut short before its address family/],
    [Buffer.of(0xfb, 2, 5, 1, 2, 3, 4, 0, 1), /unknown address family 5/],
    [Buffer.of(0xfb, 2, 6, 1, 2, 3, 4), /cut short in its address/],
    [Buffer.of(0xfb, 2, 4, 1, 2, 3, 4, 0, 0), /port 0/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeRolodexFrame(bytes), (error: unknown) => error instanceof RelayCodecError && message.test(error.message), message.source);
  }
  assert.throws(() => encodeRolodexFrame({ type: 'forward', cookie: Buffer.alloc(4), peer: V4, payload: Buffer.alloc(0) }), /cookie is 12 bytes, got 4/);
  assert.throws(() => encodeRolodexFrame({ type: 'deliver', peer: { address: 'rolodex.example', port: 1 }, payload: Buffer.alloc(0) }), /not an IP address/);
});

test('random bytes after the magic decode to a frame or a RelayCodecError, never anything else', () => {
  for (let i = 0; i < 20_000; i++) {
    const bytes = Buffer.concat([Buffer.of(0xfb, i % 4), randomBytes(i % 40)]);
    try {
      const frame = decodeRolodexFrame(bytes);
      // Whatever decodes encodes back to the same bytes (the address text is canonical).
      assert.deepEqual(encodeRolodexFrame(frame), bytes);
    } catch (error) {
      if (!(error instanceof RelayCodecError)) throw error;
    }
  }
});
