// The probe records of `meshboi ping`: known bytes, round trips, and nothing an IP packet could be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProbeRecord, encodeProbeRecord, isProbeRecord, PROBE_RECORD_BYTES } from '../../src/member/probe-codec';
import { ipPacket } from './mesh';

test('a probe and a reply encode to five known bytes and decode back', () => {
  assert.deepEqual(encodeProbeRecord({ type: 'probe', id: 0x01020304 }), Buffer.from('1101020304', 'hex'));
  assert.deepEqual(encodeProbeRecord({ type: 'reply', id: 0xffffffff }), Buffer.from('12ffffffff', 'hex'));
  for (const record of [{ type: 'probe', id: 0 }, { type: 'reply', id: 7 }, { type: 'reply', id: 0xffff_ffff }] as const) {
    assert.deepEqual(decodeProbeRecord(encodeProbeRecord(record)), { ok: true, value: record });
  }
});

test('IPv4 and IPv6 packets and the empty keepalive are never probe records', () => {
  for (const packet of [ipPacket('192.168.50.1', '192.168.50.2', 'x'), ipPacket('fd00::1', 'fd00::2', 'x'), Buffer.alloc(0)]) {
    assert.equal(isProbeRecord(packet), false);
    assert.equal(decodeProbeRecord(packet).ok, false);
  }
  for (const type of ['probe', 'reply'] as const) {
    const version = encodeProbeRecord({ type, id: 1 })[0] >> 4;
    assert.ok(version !== 4 && version !== 6, `a ${type} cannot pass for IP version ${version}`);
  }
});

test('a record of the wrong length or an unknown type is refused with the reason', () => {
  const probe = encodeProbeRecord({ type: 'probe', id: 9 });
  assert.deepEqual(decodeProbeRecord(probe.subarray(0, 4)), { ok: false, error: `a probe record is ${PROBE_RECORD_BYTES} bytes, got 4` });
  assert.deepEqual(decodeProbeRecord(Buffer.concat([probe, Buffer.of(0)])), { ok: false, error: `a probe record is ${PROBE_RECORD_BYTES} bytes, got 6` });
  assert.deepEqual(decodeProbeRecord(Buffer.from('1f00000001', 'hex')), { ok: false, error: 'unknown probe record type 15' });
  assert.throws(() => encodeProbeRecord({ type: 'probe', id: -1 }), /not a u32/);
});

test('a size probe is padded to the size it tries and decodes with that length; its reply is five bytes', () => {
  const probe = encodeProbeRecord({ type: 'size', id: 0x0a0b0c0d, length: 1400 });
  assert.equal(probe.length, 1400);
  assert.deepEqual(probe.subarray(0, 5), Buffer.from('130a0b0c0d', 'hex'));
  assert.ok(probe.subarray(5).every((byte) => byte === 0));
  assert.deepEqual(decodeProbeRecord(probe), { ok: true, value: { type: 'size', id: 0x0a0b0c0d, length: 1400 } });
  assert.deepEqual(encodeProbeRecord({ type: 'size-reply', id: 3 }), Buffer.from('1400000003', 'hex'));
  assert.deepEqual(decodeProbeRecord(Buffer.from('1400000003', 'hex')), { ok: true, value: { type: 'size-reply', id: 3 } });
  assert.deepEqual(decodeProbeRecord(probe.subarray(0, 3)), { ok: false, error: `a size record is at least ${PROBE_RECORD_BYTES} bytes, got 3` });
  assert.deepEqual(decodeProbeRecord(Buffer.from('140000000300', 'hex')), { ok: false, error: `a size-reply record is ${PROBE_RECORD_BYTES} bytes, got 6` });
  assert.throws(() => encodeProbeRecord({ type: 'size', id: 1, length: 4 }), /shorter than its 5-byte header/);
});
