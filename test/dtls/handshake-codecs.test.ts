// Handshake message codecs: round trips, what real peers send (SCSV, unknown extensions, 32-byte
// session ids, both HelloVerifyRequest versions), and typed errors for every kind of bad input.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { decodeAlert, encodeAlert } from '../../src/dtls/alert';
import { decodeClientHello, encodeClientHello, RENEGOTIATION_INFO_SCSV, type ClientHello } from '../../src/dtls/handshake/client-hello';
import { decodeClientKeyExchange, encodeClientKeyExchange } from '../../src/dtls/handshake/client-key-exchange';
import { handshakeDecoders } from '../../src/dtls/handshake/decoders';
import {
  decodeMeshboi,
  decodeSupportedGroups,
  ExtensionType,
  extendedMasterSecretExtension,
  meshboiExtension,
  renegotiationInfoExtension,
  supportedGroupsExtension,
} from '../../src/dtls/handshake/extensions';
import { decodeFinished, encodeFinished } from '../../src/dtls/handshake/finished';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/dtls/handshake/header';
import { decodeHelloVerifyRequest, encodeHelloVerifyRequest } from '../../src/dtls/handshake/hello-verify-request';
import { decodeServerHello, encodeServerHello } from '../../src/dtls/handshake/server-hello';
import { decodeServerHelloDone, encodeServerHelloDone } from '../../src/dtls/handshake/server-hello-done';
import { decodeServerKeyExchange, encodeServerKeyExchange } from '../../src/dtls/handshake/server-key-exchange';

const random = Buffer.alloc(32, 0xab);

function openSslLikeHello(): ClientHello {
  return {
    clientVersion: 0xfefd,
    random,
    sessionId: Buffer.alloc(32, 7),
    cookie: Buffer.alloc(20, 1),
    cipherSuites: [0xc0a8, 0x00a8, RENEGOTIATION_INFO_SCSV],
    compressionMethods: [0],
    extensions: [
      { type: ExtensionType.encrypt_then_mac, data: Buffer.alloc(0) },
      extendedMasterSecretExtension(),
      { type: 0x1234, data: Buffer.from('unknown to us') },
    ],
  };
}

test('a ClientHello with a 32-byte session id, the renegotiation SCSV and unknown extensions round-trips byte for byte', () => {
  const bytes = encodeClientHello(openSslLikeHello());
  const decoded = decodeClientHello(bytes);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, openSslLikeHello());
  assert.deepEqual(encodeClientHello(decoded.value), bytes);
});

test('a ClientHello with no extensions block decodes with an empty extension list', () => {
  const bytes = encodeClientHello({ ...openSslLikeHello(), extensions: [] });
  const decoded = decodeClientHello(bytes);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.extensions, []);
});

test('every truncation of a ClientHello is a typed "truncated" error, never an exception', () => {
  const bytes = encodeClientHello(openSslLikeHello());
  for (let length = 0; length < bytes.length; length++) {
    const decoded = decodeClientHello(bytes.subarray(0, length));
    // Cutting exactly before the extensions block leaves a valid hello without extensions.
    if (decoded.ok) {
      assert.deepEqual(decoded.value.extensions, []);
      continue;
    }
    assert.equal(decoded.error.reason, 'truncated', `length ${length}: ${decoded.error.message}`);
  }
});

test('a ClientHello is refused for a 33-byte session id, no suites, no compression, a repeated extension or trailing bytes', () => {
  const base = openSslLikeHello();
  const cases: Array<[Buffer, string, RegExp]> = [
    [encodeClientHello({ ...base, extensions: [] }).fill(33, 34, 35), 'too_long', /session_id is 33 bytes/],
    [encodeClientHello({ ...base, cipherSuites: [] }), 'bad_value', /offers no cipher suite/],
    [encodeClientHello({ ...base, compressionMethods: [] }), 'bad_value', /no compression method/],
    [encodeClientHello({ ...base, extensions: [extendedMasterSecretExtension(), extendedMasterSecretExtension()] }), 'bad_value', /extension 23 appears twice/],
    [Buffer.concat([encodeClientHello(base), Buffer.of(0)]), 'trailing_bytes', /1 unexpected trailing bytes/],
  ];
  for (const [bytes, reason, message] of cases) {
    const decoded = decodeClientHello(bytes);
    assert.ok(!decoded.ok);
    assert.equal(decoded.error.reason, reason);
    assert.match(decoded.error.message, message);
  }
  const trailing = decodeFinished(Buffer.alloc(13));
  assert.ok(!trailing.ok);
  assert.match(trailing.error.message, /13 bytes of verify_data; expected 12/);
});

test('HelloVerifyRequest accepts version 0xFEFF (OpenSSL) and 0xFEFD (pion) and refuses a TLS version', () => {
  for (const serverVersion of [0xfeff, 0xfefd]) {
    const decoded = decodeHelloVerifyRequest(encodeHelloVerifyRequest({ serverVersion, cookie: Buffer.alloc(255, 9) }));
    assert.ok(decoded.ok);
    assert.equal(decoded.value.serverVersion, serverVersion);
    assert.equal(decoded.value.cookie.length, 255);
  }
  const tls = decodeHelloVerifyRequest(encodeHelloVerifyRequest({ serverVersion: 0x0303, cookie: Buffer.alloc(0) }));
  assert.ok(!tls.ok);
  assert.match(tls.error.message, /0x303 is neither DTLS 1.0 nor 1.2/);
});

test('ServerHello round-trips with an empty or 32-byte session id and its extensions in order', () => {
  for (const sessionId of [Buffer.alloc(0), Buffer.alloc(32, 3)]) {
    const hello = {
      serverVersion: 0xfefd,
      random,
      sessionId,
      cipherSuite: 0xccac,
      compressionMethod: 0,
      extensions: [renegotiationInfoExtension(), extendedMasterSecretExtension(), meshboiExtension()],
    };
    const bytes = encodeServerHello(hello);
    const decoded = decodeServerHello(bytes);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, hello);
  }
});

test('ServerKeyExchange carries the identity hint alone for PSK, and X25519 parameters too for ECDHE_PSK', () => {
  const hint = Buffer.from('192.168.50.2');
  const psk = encodeServerKeyExchange({ identityHint: hint, ecdh: null });
  assert.deepEqual(psk, Buffer.concat([Buffer.of(0, 12), hint]));
  const decodedPsk = decodeServerKeyExchange(psk, 'psk');
  assert.ok(decodedPsk.ok);
  assert.deepEqual(decodedPsk.value, { identityHint: hint, ecdh: null });

  const ecdh = { namedCurve: 29, publicKey: Buffer.alloc(32, 5) };
  const ecdhe = encodeServerKeyExchange({ identityHint: hint, ecdh });
  const decoded = decodeServerKeyExchange(ecdhe, 'ecdhe_psk');
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, { identityHint: hint, ecdh });
  // Read as plain PSK, the X25519 parameters are trailing bytes: the suite decides the layout.
  assert.ok(!decodeServerKeyExchange(ecdhe, 'psk').ok);
  const badCurveType = Buffer.from(ecdhe);
  badCurveType[2 + hint.length] = 1;
  const refused = decodeServerKeyExchange(badCurveType, 'ecdhe_psk');
  assert.ok(!refused.ok);
  assert.match(refused.error.message, /curve type 1 is not named_curve/);
});

test('ClientKeyExchange carries psk_identity, plus the public key for ECDHE_PSK', () => {
  const identity = Buffer.from('192.168.50.1');
  const plain = decodeClientKeyExchange(encodeClientKeyExchange({ identity, publicKey: null }), 'psk');
  assert.ok(plain.ok);
  assert.deepEqual(plain.value, { identity, publicKey: null });
  const publicKey = Buffer.alloc(32, 8);
  const ecdhe = decodeClientKeyExchange(encodeClientKeyExchange({ identity, publicKey }), 'ecdhe_psk');
  assert.ok(ecdhe.ok);
  assert.deepEqual(ecdhe.value, { identity, publicKey });
  const empty = decodeClientKeyExchange(encodeClientKeyExchange({ identity, publicKey: Buffer.alloc(0) }), 'ecdhe_psk');
  assert.ok(!empty.ok);
});

test('ServerHelloDone is empty, Finished is 12 bytes, and an alert is two', () => {
  assert.deepEqual(encodeServerHelloDone(), Buffer.alloc(0));
  assert.ok(decodeServerHelloDone(Buffer.alloc(0)).ok);
  assert.ok(!decodeServerHelloDone(Buffer.of(0)).ok);
  const verifyData = Buffer.alloc(12, 0x42);
  const finished = decodeFinished(encodeFinished({ verifyData }));
  assert.ok(finished.ok);
  assert.deepEqual(finished.value.verifyData, verifyData);
  const alert = decodeAlert(encodeAlert({ level: 2, description: 20 }));
  assert.ok(alert.ok);
  assert.deepEqual(alert.value, { level: 2, description: 20 });
});

test('extension bodies: supported_groups lists X25519, the meshboi marker carries a version and tolerates later additions', () => {
  const groups = decodeSupportedGroups(supportedGroupsExtension([29, 23]).data);
  assert.ok(groups.ok);
  assert.deepEqual(groups.value, [29, 23]);
  assert.equal(ExtensionType.meshboi, 0xff6d);
  const ours = decodeMeshboi(meshboiExtension().data);
  assert.ok(ours.ok);
  assert.equal(ours.value.version, 1);
  const later = decodeMeshboi(Buffer.of(2, 0xaa, 0xbb));
  assert.ok(later.ok);
  assert.equal(later.value.version, 2);
  assert.ok(!decodeMeshboi(Buffer.alloc(0)).ok);
  assert.ok(!decodeMeshboi(Buffer.of(0)).ok);
});

test('the handshake header carries several fragments per record and refuses fragments outside their message', () => {
  const first = { msgType: 2, length: 10, messageSeq: 1, fragmentOffset: 0, body: Buffer.alloc(4, 1) };
  const second = { msgType: 14, length: 0, messageSeq: 2, fragmentOffset: 0, body: Buffer.alloc(0) };
  const record = Buffer.concat([encodeHandshakeFragment(first), encodeHandshakeFragment(second)]);
  const decoded = decodeHandshakeFragments(record);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, [first, second]);
  const outside = encodeHandshakeFragment({ ...first, fragmentOffset: 8 });
  const refused = decodeHandshakeFragments(outside);
  assert.ok(!refused.ok);
  assert.equal(refused.error.reason, 'bad_value');
  const short = decodeHandshakeFragments(record.subarray(0, 20));
  assert.ok(!short.ok);
  assert.equal(short.error.reason, 'truncated');
});

test('every exported decoder returns a result for arbitrary bytes and never throws', () => {
  let state = 0x9e3779b9;
  const next = (): number => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state;
  };
  for (const { name, decode } of handshakeDecoders) {
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.alloc(next() % 80);
      for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
      const result = decode(bytes);
      assert.equal(typeof result.ok, 'boolean', name);
    }
  }
});
