// A blind network's keys: the tag hides the name, a voucher opens only in its own network, for the
// endpoint it names and while fresh, and the identity hint opens only with the network's key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlindNetwork, MAX_CLOCK_SKEW_MS, VOUCHER_MAX_AGE_MS } from '../../src/member/blind-network';
import { MAX_OPAQUE_CHARS } from '../../src/rolodex-wire';

const PSK = Buffer.from('correct horse battery staple');
const NOW = 1_700_000_000_000;
const OUTSIDE = { address: '203.0.113.5', port: 41000 };
const LOCALS = [
  { address: '10.0.0.5', port: 41000 },
  { address: 'fd00::5', port: 41000 },
];

test('the tag depends on both the PSK and the name, and tells neither', () => {
  const tag = new BlindNetwork(PSK, 'office').tag;
  assert.equal(tag, new BlindNetwork(PSK, 'office').tag, 'every member derives the same tag');
  assert.notEqual(tag, new BlindNetwork(PSK, 'office2').tag);
  assert.notEqual(tag, new BlindNetwork(Buffer.from('another key'), 'office').tag);
  assert.match(tag, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!tag.includes('office'));
});

test('a voucher opens for the endpoint it names, with its LAN endpoints, and fits the opaque field', () => {
  const blind = new BlindNetwork(PSK, 'office');
  const sealed = blind.sealVoucher({ outside: OUTSIDE, issuedAt: NOW, locals: LOCALS });
  assert.ok(sealed.length <= MAX_OPAQUE_CHARS);
  assert.ok(!sealed.includes('10.0.0.5') && !Buffer.from(sealed, 'base64url').includes(Buffer.from([10, 0, 0, 5])), 'LAN endpoints are sealed');
  assert.deepEqual(blind.openVoucher(sealed, OUTSIDE, NOW + 1000), { outside: OUTSIDE, issuedAt: NOW, locals: LOCALS });
  const eight = Array.from({ length: 8 }, (_, i) => ({ address: `ffff:ffff:ffff:ffff:ffff:ffff:ffff:${i + 1}`, port: 65535 }));
  const largest = blind.sealVoucher({ outside: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 }, issuedAt: NOW, locals: eight });
  assert.ok(largest.length <= MAX_OPAQUE_CHARS, `${largest.length} characters`);
});

test('a voucher is refused when moved to another endpoint, from another network, stale, from the future, or tampered with', () => {
  const blind = new BlindNetwork(PSK, 'office');
  const sealed = blind.sealVoucher({ outside: OUTSIDE, issuedAt: NOW, locals: LOCALS });
  assert.equal(blind.openVoucher(sealed, { address: '203.0.113.5', port: 41001 }, NOW), null, 'another port');
  assert.equal(blind.openVoucher(sealed, { address: '198.18.0.1', port: 41000 }, NOW), null, 'another address');
  assert.equal(new BlindNetwork(PSK, 'lab').openVoucher(sealed, OUTSIDE, NOW), null, 'same PSK, another network');
  assert.equal(new BlindNetwork(Buffer.from('x'), 'office').openVoucher(sealed, OUTSIDE, NOW), null, 'another PSK');
  assert.ok(blind.openVoucher(sealed, OUTSIDE, NOW + VOUCHER_MAX_AGE_MS));
  assert.equal(blind.openVoucher(sealed, OUTSIDE, NOW + VOUCHER_MAX_AGE_MS + 1), null, 'replayed once stale');
  assert.ok(blind.openVoucher(sealed, OUTSIDE, NOW - MAX_CLOCK_SKEW_MS));
  assert.equal(blind.openVoucher(sealed, OUTSIDE, NOW - MAX_CLOCK_SKEW_MS - 1), null, 'dated beyond the allowed skew');
  const bytes = Buffer.from(sealed, 'base64url');
  bytes[20] ^= 1;
  assert.equal(blind.openVoucher(bytes.toString('base64url'), OUTSIDE, NOW), null, 'one bit flipped');
  assert.equal(blind.openVoucher('AAAA', OUTSIDE, NOW), null, 'too short');
  assert.equal(blind.openVoucher(undefined, OUTSIDE, NOW), null, 'none at all');
});

test('the identity hint hides the VPN IP, differs every time, and opens only in its network', () => {
  const blind = new BlindNetwork(PSK, 'office');
  const hint = blind.sealHint('192.168.50.7');
  assert.ok(!hint.includes('192.168.50.7'));
  assert.notEqual(hint, blind.sealHint('192.168.50.7'), 'fresh per handshake, so two handshakes cannot be linked');
  assert.equal(blind.openHint(hint), '192.168.50.7');
  assert.equal(new BlindNetwork(PSK, 'lab').openHint(hint), null);
  assert.equal(blind.openHint('192.168.50.7'), null, 'a plain VPN IP is no sealed hint');
});
