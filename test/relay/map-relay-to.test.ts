// `Meshboi.RelayTo` in the rolodex's maps (docs/rolodex.md, "The extension"): the members listed
// that a rolodex with --relay relays to. Only extension-aware recipients see it; it round-trips;
// chunks full of it still fit 1,200 bytes; a malformed one is refused with its reason; and a map
// without it decodes as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint } from '../../src/net/transport';
import { decodeMap, encodeChunkDatagram, encodeMap, MAX_MAP_DATAGRAM_BYTES, MAX_OPAQUE_CHARS, packChunks, renderEntry } from '../../src/rolodex-wire';

const RECIPIENT = renderEntry({ address: '2.2.2.2', port: 2 }, []);

test('maps list the members the rolodex relays to, for extension-aware recipients only', () => {
  const entries = [renderEntry({ address: '1.1.1.1', port: 1 }, [], undefined, true), renderEntry({ address: '3.3.3.3', port: 3 }, [])];
  const [extended] = packChunks(entries, true);
  const datagram = encodeChunkDatagram(extended, RECIPIENT, true);
  assert.equal(datagram.toString(), '{"Addresses":["2.2.2.2:2","1.1.1.1:1","3.3.3.3:3"],"YourIndex":0,"Meshboi":{"V":1,"Local":{},"RelayTo":["1.1.1.1:1"]}}');
  const decoded = decodeMap(datagram);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.relayTo, new Set(['1.1.1.1:1']));
  const [plain] = packChunks(entries, false);
  assert.doesNotMatch(encodeChunkDatagram(plain, RECIPIENT, false).toString(), /RelayTo|Meshboi/);
});

test('a map with nobody to relay to carries no RelayTo and decodes without one', () => {
  const [chunk] = packChunks([renderEntry({ address: '1.1.1.1', port: 1 }, [])], true);
  const datagram = encodeChunkDatagram(chunk, RECIPIENT, true);
  assert.doesNotMatch(datagram.toString(), /RelayTo/);
  const decoded = decodeMap(datagram);
  assert.ok(decoded.ok);
  assert.equal(decoded.value.relayTo, undefined);
});

test('RelayTo round-trips through encodeMap', () => {
  const map = { addresses: [{ address: '1.2.3.4', port: 5 }, { address: '2001:db8::1', port: 6 }], yourIndex: 0, local: new Map(), gone: [], meshboi: true, opaque: new Map(), relayTo: new Set(['[2001:db8::1]:6']) };
  assert.deepEqual(decodeMap(encodeMap(map)), { ok: true, value: map });
});

test('chunks whose every entry is relayed to still fit 1,200 bytes for any recipient', () => {
  const local = [...Array(8).keys()].map((i) => ({ address: `fd00:ffff:ffff:ffff:ffff:ffff:ffff:${i + 1}`, port: 65535 }));
  const member = (i: number): Endpoint => ({ address: `2001:db8:ffff:ffff:ffff:ffff:ffff:${(i + 1).toString(16)}`, port: 60000 + i });
  const entries = Array.from({ length: 300 }, (_, i) => renderEntry(member(i), i % 3 === 0 ? local : [], i % 2 === 0 ? 'A'.repeat(MAX_OPAQUE_CHARS) : undefined, true));
  const outsider = renderEntry({ address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 }, []);
  let relayed = 0;
  for (const chunk of packChunks(entries, true)) {
    const datagram = encodeChunkDatagram(chunk, outsider, true);
    assert.ok(datagram.length <= MAX_MAP_DATAGRAM_BYTES, `${datagram.length} bytes`);
    const decoded = decodeMap(datagram);
    assert.ok(decoded.ok);
    relayed += decoded.value.relayTo?.size ?? 0;
  }
  assert.equal(relayed, entries.length);
});

test('a malformed RelayTo is refused, saying which field', () => {
  for (const relayTo of ['1.1.1.1:1', ['not an endpoint'], [1]]) {
    const decoded = decodeMap(Buffer.from(JSON.stringify({ Addresses: ['2.2.2.2:2'], YourIndex: 0, Meshboi: { V: 1, RelayTo: relayTo } })));
    assert.ok(!decoded.ok);
    assert.match(decoded.error.message, /Meshboi\.RelayTo/);
  }
});
