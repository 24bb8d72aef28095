// The relay codec: every frame round-trips, and malformed bytes give a RelayCodecError that says what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isControlRecord } from '../../src/member/control-record';
import { decodeRelayFrame, encodeRelayFrame, MAX_HEADER_BYTES, RelayCodecError, RELAY_FRAME_TYPES, type RelayFrame } from '../../src/relay/wire';

test('every frame round-trips, with IPv4 and IPv6 member addresses', () => {
  const frames: RelayFrame[] = [
    { type: 'forward', peer: { address: '203.0.113.7', port: 41234 }, payload: Buffer.from('a DTLS record') },
    { type: 'deliver', peer: { address: '2001:db8::7', port: 6264 }, payload: Buffer.alloc(0) },
    { type: 'deliver', peer: { address: '::1', port: 1 }, payload: Buffer.from([23, 254, 253]) },
    { type: 'offer' },
    { type: 'punch' },
    { type: 'ping', nonce: 0xffffffff },
    { type: 'pong', nonce: 7 },
  ];
  for (const frame of frames) {
    const bytes = encodeRelayFrame(frame);
    assert.ok(isControlRecord(bytes) && RELAY_FRAME_TYPES.includes(bytes[0]), `${frame.type} is a control record, never taken for an IP packet`);
    assert.deepEqual(decodeRelayFrame(bytes), frame);
  }
});

test('a forwarded frame costs at most the header on top of its payload', () => {
  const payload = Buffer.alloc(1200);
  for (const address of ['198.51.100.1', 'fd00:6d62::1']) {
    const bytes = encodeRelayFrame({ type: 'forward', peer: { address, port: 5 }, payload });
    assert.ok(bytes.length - payload.length <= MAX_HEADER_BYTES, address);
  }
});

test('relay frames take control record types of their own: peer-info keeps 0x01', () => {
  assert.ok(!RELAY_FRAME_TYPES.includes(0x01));
  assert.ok(RELAY_FRAME_TYPES.every((type) => type < 0x10));
});

test('malformed frames are refused with what was wrong', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.alloc(0), /empty/],
    [Buffer.of(0x0f), /unknown relay frame type 0x0f/],
    [Buffer.of(0x0a, 0), /offer frame of 2 bytes/],
    [Buffer.of(0x0b, 0, 0), /ping or pong frame of 3 bytes/],
    [Buffer.of(0x08), /cut short before its address family/],
    [Buffer.of(0x08, 5, 1, 2, 3, 4, 0, 1), /unknown address family 5/],
    [Buffer.of(0x09, 4, 1, 2, 3), /cut short in its address/],
    [Buffer.of(0x09, 4, 1, 2, 3, 4, 0, 0), /port 0/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeRelayFrame(bytes), (error: unknown) => error instanceof RelayCodecError && message.test(error.message), message.source);
  }
  assert.throws(() => encodeRelayFrame({ type: 'forward', peer: { address: 'relay.example', port: 1 }, payload: Buffer.alloc(0) }), /not an IP address/);
  assert.throws(() => encodeRelayFrame({ type: 'forward', peer: { address: '192.0.2.1', port: 0 }, payload: Buffer.alloc(0) }), /port 0/);
});
