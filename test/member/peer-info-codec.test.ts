// The peer-info control record and IP prefixes: round trips on known bytes, unknown fields
// skipped, and each malformed record refused with what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isControlRecord } from '../../src/member/control-record';
import { parsePrefix, prefixContains, prefixesOverlap, type IpPrefix } from '../../src/member/ip-prefix';
import { decodePeerInfo, encodePeerInfo, PeerInfoError } from '../../src/member/peer-info';
import { parseVpnAddress } from '../../src/member/vpn-address';
import { ipPacket } from './mesh';

const prefix = (text: string): IpPrefix => {
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

test('peer-info encodes to the documented bytes and back', () => {
  const info = { heard: true, addresses: [parseVpnAddress('fd00::2')!], name: 'bob', routes: [prefix('10.1.0.0/24')], mode: 'tun' as const };
  const bytes = encodePeerInfo(info);
  assert.equal(
    bytes.toString('hex'),
    '0101' + '0110' + 'fd000000000000000000000000000002' + '0203' + '626f62' + '0305' + '18' + '0a010000',
  );
  const decoded = decodePeerInfo(bytes);
  assert.equal(decoded.heard, true);
  assert.deepEqual(decoded.addresses.map((address) => address.text), ['fd00::2']);
  assert.equal(decoded.name, 'bob');
  assert.deepEqual(decoded.routes.map((route) => route.text), ['10.1.0.0/24']);
  assert.equal(decoded.mode, 'tun');
  assert.equal(decodePeerInfo(encodePeerInfo({ ...info, heard: false, mode: 'tap' })).mode, 'tap');
  assert.ok(isControlRecord(bytes));
  assert.ok(!isControlRecord(ipPacket('10.0.0.1', '10.0.0.2', 'x')) && !isControlRecord(ipPacket('fd00::1', 'fd00::2', 'x')));
});

test('unknown fields are skipped and an empty record means nothing to say', () => {
  const decoded = decodePeerInfo(Buffer.from('0100' + '0902abcd' + '020161', 'hex'));
  assert.equal(decoded.name, 'a');
  assert.deepEqual(decodePeerInfo(Buffer.from('0100', 'hex')), { heard: false, addresses: [], name: null, routes: [], mode: 'tun' });
});

test('malformed peer-info records are refused with the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['01', /not a peer-info record/],
    ['0200', /not a peer-info record/],
    ['010001', /field header cut short/],
    ['01000105c0a8', /claims 5 bytes, 2 remain/],
    ['01000103c0a832', /4 or 16 expected/],
    ['010002024142', /not a DNS label/],
    ['0100020161020162', /two name fields/],
    ['0100030518' + '0a010001', /not a network prefix/],
    ['0100030121', /not a network prefix/],
    ['0100040102', /bad mode/],
  ];
  for (const [hex, reason] of cases) assert.throws(() => decodePeerInfo(Buffer.from(hex, 'hex')), (error: unknown) => error instanceof PeerInfoError && reason.test(error.message), hex);
  const five = '0100' + '0104c0a83201'.repeat(5);
  assert.throws(() => decodePeerInfo(Buffer.from(five, 'hex')), /more than 4 addresses/);
});

test('prefixes parse canonically, refuse host bits, and match addresses inside packets', () => {
  assert.equal(prefix('fd00:1:0::/48').text, 'fd00:1::/48');
  assert.match(String(parsePrefix('10.1.0.1/16')), /host bits set; the network is 10.1.0.0\/16/);
  assert.match(String(parsePrefix('10.1.0.0/33')), /prefix length over 32/);
  assert.match(String(parsePrefix('10.1.0.0')), /not an address with a prefix length/);
  assert.ok(prefixesOverlap(prefix('10.0.0.0/8'), prefix('10.1.2.0/24')));
  assert.ok(!prefixesOverlap(prefix('10.1.0.0/24'), prefix('10.1.1.0/24')));
  assert.ok(!prefixesOverlap(prefix('10.0.0.0/8'), prefix('fd00::/8')));
  const packet = ipPacket('10.1.0.200', '192.168.50.1', 'x');
  assert.ok(prefixContains(prefix('10.1.0.128/25'), packet, 12));
  assert.ok(!prefixContains(prefix('10.1.0.0/25'), packet, 12));
  assert.ok(prefixContains(prefix('fd00:1::/47'), ipPacket('fd00:1:1::9', 'fd00::1', 'x'), 8));
});
