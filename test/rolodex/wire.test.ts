// The rolodex codec: original bytes decode and re-encode exactly, our extension round-trips,
// every malformed input yields its typed reason, and packed maps always fit 1,200 bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeHeartbeat,
  decodeMap,
  encodeChunkDatagram,
  encodeCookieDatagram,
  encodeGoneDatagram,
  encodeHeartbeat,
  encodeMap,
  MAX_MAP_DATAGRAM_BYTES,
  MAX_OPAQUE_CHARS,
  packChunks,
  packGone,
  parseEndpoint,
  renderEntry,
  type Decoded,
  type Endpoint,
  type RolodexCodecReason,
} from '../../src/rolodex-wire';
import { compareEndpoints } from '../../src/member/role-order';

// From shared/vectors/original-meshboi-session.json: what an original member and rolodex sent.
const ORIGINAL_HEARTBEAT = Buffer.from('7b224e6574776f726b4e616d65223a22746573746e6574776f726b227d', 'hex');
const ORIGINAL_MAP = Buffer.from(
  '7b22416464726573736573223a5b2231302e37372e302e323a3533353236222c2231302e37372e302e333a3534343930225d2c22596f7572496e646578223a317d',
  'hex',
);

const text = (value: string): Buffer => Buffer.from(value, 'utf8');

function reasonOf(result: { ok: true } | { ok: false; error: { reason: RolodexCodecReason } }): string {
  return result.ok ? 'ok' : result.error.reason;
}

test('an original heartbeat decodes to its network name and no extension', () => {
  const decoded = decodeHeartbeat(ORIGINAL_HEARTBEAT);
  assert.deepEqual(decoded, { ok: true, value: { networkName: 'testnetwork', local: [], meshboi: false } });
  assert.deepEqual(encodeHeartbeat({ networkName: 'testnetwork', local: [], meshboi: false }), ORIGINAL_HEARTBEAT);
});

test('an original map decodes and re-encodes to the same bytes', () => {
  const decoded = decodeMap(ORIGINAL_MAP);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.addresses, [
    { address: '10.77.0.2', port: 53526 },
    { address: '10.77.0.3', port: 54490 },
  ]);
  assert.equal(decoded.value.yourIndex, 1);
  assert.equal(decoded.value.meshboi, false);
  assert.deepEqual(encodeMap(decoded.value), ORIGINAL_MAP);
});

test('our heartbeat extension round-trips its LAN endpoints', () => {
  const heartbeat = { networkName: 'net', local: [{ address: '10.1.0.5', port: 41234 }, { address: 'fd00::5', port: 41234 }], meshboi: true };
  const bytes = encodeHeartbeat(heartbeat);
  assert.equal(bytes.toString(), '{"NetworkName":"net","Meshboi":{"V":1,"Local":["10.1.0.5:41234","[fd00::5]:41234"]}}');
  assert.deepEqual(decodeHeartbeat(bytes), { ok: true, value: heartbeat });
});

test('a cookie travels in our map extension and back in our heartbeats', () => {
  const recipient = renderEntry({ address: '198.51.100.7', port: 4000 }, []);
  const datagram = encodeCookieDatagram('AAECAwQFBgcICQoL', recipient);
  assert.equal(datagram.toString(), '{"Addresses":["198.51.100.7:4000"],"YourIndex":0,"Meshboi":{"V":1,"Cookie":"AAECAwQFBgcICQoL"}}');
  const map = decodeMap(datagram);
  assert.ok(map.ok);
  assert.equal(map.value.cookie, 'AAECAwQFBgcICQoL');
  assert.deepEqual(map.value.addresses, [{ address: '198.51.100.7', port: 4000 }]);
  const heartbeat = { networkName: 'net', local: [], meshboi: true, cookie: 'AAECAwQFBgcICQoL' };
  const bytes = encodeHeartbeat(heartbeat);
  assert.equal(bytes.toString(), '{"NetworkName":"net","Meshboi":{"V":1,"Local":[],"Cookie":"AAECAwQFBgcICQoL"}}');
  assert.deepEqual(decodeHeartbeat(bytes), { ok: true, value: heartbeat });
});

test('Relay says a member takes relay frames, and beside a cookie that the rolodex relays; a version we do not speak means no', () => {
  const heartbeat = { networkName: 'net', local: [], meshboi: true, relay: true };
  const bytes = encodeHeartbeat(heartbeat);
  assert.equal(bytes.toString(), '{"NetworkName":"net","Meshboi":{"V":1,"Local":[],"Relay":1}}');
  assert.deepEqual(decodeHeartbeat(bytes), { ok: true, value: heartbeat });
  const recipient = renderEntry({ address: '198.51.100.7', port: 4000 }, []);
  const datagram = encodeCookieDatagram('AAECAwQFBgcICQoL', recipient, true);
  assert.equal(datagram.toString(), '{"Addresses":["198.51.100.7:4000"],"YourIndex":0,"Meshboi":{"V":1,"Cookie":"AAECAwQFBgcICQoL","Relay":1}}');
  const map = decodeMap(datagram);
  assert.ok(map.ok && map.value.relay === true && map.value.cookie === 'AAECAwQFBgcICQoL');
  const later = decodeHeartbeat(text('{"NetworkName":"n","Meshboi":{"V":1,"Relay":2}}'));
  assert.ok(later.ok && later.value.relay === undefined);
  const bad = decodeHeartbeat(text('{"NetworkName":"n","Meshboi":{"V":1,"Relay":true}}'));
  assert.ok(!bad.ok && /Meshboi.Relay must be a positive integer/.test(bad.error.message));
});

test('a heartbeat from a future extension version keeps the fields it shares with version 1', () => {
  const decoded = decodeHeartbeat(text('{"NetworkName":"n","Meshboi":{"V":7,"Local":["10.0.0.1:1"],"Later":true},"Other":1}'));
  assert.deepEqual(decoded, { ok: true, value: { networkName: 'n', local: [{ address: '10.0.0.1', port: 1 }], meshboi: true } });
});

test('our map extension round-trips LAN endpoints and forgotten members', () => {
  const map = {
    addresses: [{ address: '1.2.3.4', port: 5 }, { address: '2001:db8::1', port: 6 }],
    yourIndex: 0,
    local: new Map([['[2001:db8::1]:6', [{ address: '10.0.0.2', port: 6 }]]]),
    gone: [{ address: '9.9.9.9', port: 9 }],
    meshboi: true,
    opaque: new Map([['[2001:db8::1]:6', 'c2VhbGVk']]),
  };
  const bytes = encodeMap(map);
  assert.equal(
    bytes.toString(),
    '{"Addresses":["1.2.3.4:5","[2001:db8::1]:6"],"YourIndex":0,"Meshboi":{"V":1,"Local":{"[2001:db8::1]:6":["10.0.0.2:6"]},"Gone":["9.9.9.9:9"],"Opaque":{"[2001:db8::1]:6":"c2VhbGVk"}}}',
  );
  assert.deepEqual(decodeMap(bytes), { ok: true, value: map });
});

const MALFORMED_HEARTBEATS: Array<[string, Buffer, RolodexCodecReason]> = [
  ['over 1,200 bytes', text(`{"NetworkName":"${'n'.repeat(1200)}"}`), 'too_large'],
  ['not JSON', text('hello'), 'not_json'],
  ['truncated JSON', text('{"NetworkName":"n"'), 'not_json'],
  ['empty', Buffer.alloc(0), 'not_json'],
  ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'not_json'],
  ['a JSON array', text('["n"]'), 'not_object'],
  ['JSON null', text('null'), 'not_object'],
  ['a JSON string', text('"n"'), 'not_object'],
  ['a JSON number', text('42'), 'not_object'],
  ['no NetworkName', text('{}'), 'bad_field'],
  ['a numeric NetworkName', text('{"NetworkName":5}'), 'bad_field'],
  ['an empty NetworkName', text('{"NetworkName":""}'), 'bad_field'],
  ['a null NetworkName', text('{"NetworkName":null}'), 'bad_field'],
  ['a Meshboi that is not an object', text('{"NetworkName":"n","Meshboi":[]}'), 'bad_field'],
  ['a Meshboi without V', text('{"NetworkName":"n","Meshboi":{}}'), 'bad_field'],
  ['a Meshboi with V 0', text('{"NetworkName":"n","Meshboi":{"V":0}}'), 'bad_field'],
  ['a Meshboi with a fractional V', text('{"NetworkName":"n","Meshboi":{"V":1.5}}'), 'bad_field'],
  ['a Local that is not an array', text('{"NetworkName":"n","Meshboi":{"V":1,"Local":"10.0.0.1:1"}}'), 'bad_field'],
  ['a numeric Cookie', text('{"NetworkName":"n","Meshboi":{"V":1,"Cookie":5}}'), 'bad_field'],
  ['a Cookie that is not base64url', text('{"NetworkName":"n","Meshboi":{"V":1,"Cookie":"a b"}}'), 'bad_field'],
  ['a Cookie over 64 characters', text(`{"NetworkName":"n","Meshboi":{"V":1,"Cookie":"${'a'.repeat(65)}"}}`), 'bad_field'],
  ['a numeric Opaque', text('{"NetworkName":"n","Meshboi":{"V":1,"Opaque":5}}'), 'bad_field'],
  ['an Opaque that is not base64url', text('{"NetworkName":"n","Meshboi":{"V":1,"Opaque":"a\\"b"}}'), 'bad_field'],
  ['an Opaque over 320 characters', text(`{"NetworkName":"n","Meshboi":{"V":1,"Opaque":"${'a'.repeat(321)}"}}`), 'bad_field'],
  ['a Local entry that is not a string', text('{"NetworkName":"n","Meshboi":{"V":1,"Local":[7]}}'), 'bad_address'],
  ['a Local entry without a port', text('{"NetworkName":"n","Meshboi":{"V":1,"Local":["10.0.0.1"]}}'), 'bad_address'],
  [
    'more than 8 Local entries',
    text(`{"NetworkName":"n","Meshboi":{"V":1,"Local":${JSON.stringify(Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 1}:1`))}}}`),
    'too_many',
  ],
];

const MALFORMED_MAPS: Array<[string, Buffer, RolodexCodecReason]> = [
  ['over 65,535 bytes', text(`{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Pad":"${'x'.repeat(65_535)}"}`), 'too_large'],
  ['not JSON', text('{"Addresses":'), 'not_json'],
  ['a JSON array', text('[]'), 'not_object'],
  ['without Addresses', text('{"YourIndex":0}'), 'bad_field'],
  ['with Addresses as a string', text('{"Addresses":"1.2.3.4:5","YourIndex":0}'), 'bad_field'],
  ['with a bad address', text('{"Addresses":["1.2.3.4"],"YourIndex":0}'), 'bad_address'],
  ['with a numeric address', text('{"Addresses":[1234],"YourIndex":0}'), 'bad_address'],
  ['without YourIndex', text('{"Addresses":["1.2.3.4:5"]}'), 'bad_field'],
  ['with a string YourIndex', text('{"Addresses":["1.2.3.4:5"],"YourIndex":"0"}'), 'bad_field'],
  ['with a fractional YourIndex', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0.5}'), 'bad_field'],
  ['with YourIndex past the end', text('{"Addresses":["1.2.3.4:5"],"YourIndex":1}'), 'bad_index'],
  ['with a negative YourIndex', text('{"Addresses":["1.2.3.4:5"],"YourIndex":-1}'), 'bad_index'],
  ['with an Opaque list', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Opaque":["x"]}}'), 'bad_field'],
  ['with an Opaque key that is no endpoint', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Opaque":{"x":"x"}}}'), 'bad_address'],
  ['with an Opaque value that is no base64url', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Opaque":{"1.2.3.4:5":"a b"}}}'), 'bad_field'],
  ['with no addresses at all', text('{"Addresses":[],"YourIndex":0}'), 'bad_index'],
  ['with a Local that is an array', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Local":[]}}'), 'bad_field'],
  ['with a Local key that is no endpoint', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Local":{"x":[]}}}'), 'bad_address'],
  [
    'with a Local value that is no list',
    text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Local":{"1.2.3.4:5":"10.0.0.1:5"}}}'),
    'bad_field',
  ],
  ['with Gone as an object', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Gone":{}}}'), 'bad_field'],
  ['with a bad Gone entry', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":{"V":1,"Gone":["::1:5"]}}'), 'bad_address'],
  ['with a Meshboi string', text('{"Addresses":["1.2.3.4:5"],"YourIndex":0,"Meshboi":"v1"}'), 'bad_field'],
];

const MALFORMED: Array<[string, (bytes: Uint8Array) => Decoded<unknown>, Array<[string, Buffer, RolodexCodecReason]>]> = [
  ['a heartbeat that is', decodeHeartbeat, MALFORMED_HEARTBEATS],
  ['a map', decodeMap, MALFORMED_MAPS],
];

for (const [subject, decode, cases] of MALFORMED) {
  for (const [what, bytes, reason] of cases) {
    test(`${subject} ${what} is refused as ${reason}, with a message`, () => {
      const decoded = decode(bytes);
      assert.equal(reasonOf(decoded), reason);
      if (!decoded.ok) assert.ok(decoded.error.message.length > 0);
    });
  }
}

test('endpoints parse to canonical addresses', () => {
  assert.deepEqual(parseEndpoint('203.0.113.7:41234'), { address: '203.0.113.7', port: 41234 });
  assert.deepEqual(parseEndpoint('[2001:DB8:0:0:0:0:0:1]:5000'), { address: '2001:db8::1', port: 5000 });
  assert.deepEqual(parseEndpoint('[::ffff:192.0.2.1]:7'), { address: '192.0.2.1', port: 7 });
  assert.deepEqual(parseEndpoint('[::]:1'), { address: '::', port: 1 });
  assert.deepEqual(parseEndpoint('[1:0:0:2:0:0:0:3]:1'), { address: '1:0:0:2::3', port: 1 });
  assert.deepEqual(parseEndpoint('[1:0:2:3:4:5:6:7]:1'), { address: '1:0:2:3:4:5:6:7', port: 1 });
  assert.deepEqual(parseEndpoint('[64:ff9b::192.0.2.1]:65535'), { address: '64:ff9b::c000:201', port: 65535 });
});

test('text that is not an endpoint is refused', () => {
  const bad = [
    '',
    '1.2.3.4',
    '1.2.3.4:',
    '1.2.3.4:0',
    '1.2.3.4:65536',
    '1.2.3.4:05',
    '1.2.3.4:+5',
    '01.2.3.4:5',
    '256.2.3.4:5',
    '1.2.3:5',
    '1.2.3.4.5:5',
    'localhost:5',
    '::1:5',
    '[::1]',
    '[::1]5',
    '[::1:5',
    '[fe80::1%eth0]:5',
    '[1::2::3]:5',
    '[1:2:3:4:5:6:7:8:9]:5',
    '[1:2:3:4:5:6:7]:5',
    '[12345::]:5',
    '[::g]:5',
    '[1.2.3.4]:5',
  ];
  for (const item of bad) assert.equal(parseEndpoint(item), null, item);
});

test('endpoints order IPv4 before IPv6, then by address bytes, then by port', () => {
  const e = (text: string): Endpoint => parseEndpoint(text) as Endpoint;
  assert.ok(compareEndpoints(e('255.255.255.255:65535'), e('[::]:1')) < 0);
  assert.ok(compareEndpoints(e('10.0.0.2:1'), e('10.0.0.10:1')) < 0, 'bytes, not text');
  assert.ok(compareEndpoints(e('10.0.0.2:9'), e('10.0.0.2:10')) < 0, 'ports numerically');
  assert.ok(compareEndpoints(e('[2001:db8::2]:1'), e('[2001:db8::10]:1')) < 0);
  assert.ok(compareEndpoints(e('[fe80::1]:1'), e('[2001::1]:1')) > 0);
  assert.equal(compareEndpoints(e('1.2.3.4:5'), e('1.2.3.4:5')), 0);
});

function ipv6Member(i: number): Endpoint {
  return { address: `2001:db8:ffff:ffff:ffff:ffff:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`, port: 60000 + (i % 5000) };
}

test('packed chunks fit 1,200 bytes for any recipient and cover every member once', () => {
  for (const extended of [false, true]) {
    const local = [...Array(8).keys()].map((i) => ({ address: `fd00:ffff:ffff:ffff:ffff:ffff:ffff:${i + 1}`, port: 65535 }));
    const opaque = 'A'.repeat(MAX_OPAQUE_CHARS);
    const entries = Array.from({ length: 600 }, (_, i) => renderEntry(ipv6Member(i), i % 3 === 0 ? local : [], i % 2 === 0 ? opaque : undefined));
    const chunks = packChunks(entries, extended);
    assert.deepEqual(chunks.flatMap((chunk) => chunk.entries), entries);
    const outsider = renderEntry({ address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 }, []);
    for (const chunk of chunks) {
      for (const recipient of [outsider, chunk.entries[0], chunk.entries[chunk.entries.length - 1]]) {
        const datagram = encodeChunkDatagram(chunk, recipient, extended);
        assert.ok(datagram.length <= MAX_MAP_DATAGRAM_BYTES, `${datagram.length} bytes`);
        const decoded = decodeMap(datagram);
        assert.ok(decoded.ok);
        assert.equal(JSON.stringify(decoded.value.addresses[decoded.value.yourIndex]), JSON.stringify(parseEndpoint(recipient.key)));
        assert.equal(decoded.value.meshboi, extended);
        const withOpaque = chunk.entries.filter((entry) => entry.opaqueJson !== '').length;
        assert.equal(decoded.value.opaque.size, extended ? withOpaque : 0, 'opaque fields go to extension-aware recipients only');
        const listed = new Set(decoded.value.addresses.map((endpoint) => `${endpoint.address}/${endpoint.port}`));
        assert.equal(listed.size, decoded.value.addresses.length, 'no member listed twice');
      }
    }
    assert.ok(chunks.length > 1);
  }
});

test('a chunk for original recipients carries no extension and lists LAN-free entries only', () => {
  const entries = [renderEntry({ address: '1.1.1.1', port: 1 }, [{ address: '10.0.0.1', port: 1 }])];
  const [chunk] = packChunks(entries, false);
  assert.equal(encodeChunkDatagram(chunk, entries[0], false).toString(), '{"Addresses":["1.1.1.1:1"],"YourIndex":0}');
  const [extended] = packChunks(entries, true);
  assert.equal(
    encodeChunkDatagram(extended, renderEntry({ address: '2.2.2.2', port: 2 }, []), true).toString(),
    '{"Addresses":["2.2.2.2:2","1.1.1.1:1"],"YourIndex":0,"Meshboi":{"V":1,"Local":{"1.1.1.1:1":["10.0.0.1:1"]}}}',
  );
});

test('a heartbeat\'s opaque field round-trips and is relayed unread beside its entry in maps', () => {
  const heartbeat = { networkName: 'tag', local: [], meshboi: true, opaque: 'c2VhbGVkLXZvdWNoZXI' };
  const decoded = decodeHeartbeat(encodeHeartbeat(heartbeat));
  assert.deepEqual(decoded, { ok: true, value: heartbeat });
  const entries = [renderEntry({ address: '1.1.1.1', port: 1 }, [], heartbeat.opaque)];
  const [chunk] = packChunks(entries, true);
  assert.equal(
    encodeChunkDatagram(chunk, renderEntry({ address: '2.2.2.2', port: 2 }, []), true).toString(),
    '{"Addresses":["2.2.2.2:2","1.1.1.1:1"],"YourIndex":0,"Meshboi":{"V":1,"Local":{},"Opaque":{"1.1.1.1:1":"c2VhbGVkLXZvdWNoZXI"}}}',
  );
});

test('Gone lists are split so each datagram fits 1,200 bytes and names the recipient', () => {
  const quoted = Array.from({ length: 300 }, (_, i) => JSON.stringify(`[${ipv6Member(i).address}]:${ipv6Member(i).port}`));
  const lists = packGone(quoted);
  assert.ok(lists.length > 1);
  const recipient = renderEntry({ address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 }, []);
  const gone: Endpoint[] = [];
  for (const list of lists) {
    const datagram = encodeGoneDatagram(list, recipient);
    assert.ok(datagram.length <= MAX_MAP_DATAGRAM_BYTES);
    const decoded = decodeMap(datagram);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.addresses, [{ address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 }]);
    gone.push(...decoded.value.gone);
  }
  assert.equal(gone.length, 300);
});
