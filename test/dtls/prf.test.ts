// Key schedule tests: the TLS 1.2 PRF against the published P_SHA256 / P_SHA384 vectors, the RFC 4279
// and RFC 5489 premaster layouts, key block slicing per suite, and X25519 agreement.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/api';
import { cipherSuiteById } from '../../src/dtls/cipher/suites';
import { generateX25519KeyPair, X25519Error, x25519SharedSecret } from '../../src/dtls/cipher/x25519';
import { expandKeyBlock, extendedMasterSecret, finishedVerifyData, prf, pskPremasterSecret } from '../../src/dtls/prf';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// The vectors posted to the IETF TLS list (msg03416), reproduced by OpenSSL's TLS1-PRF KDF.
test('the PRF with SHA-256 reproduces the published 100-byte test label vector', () => {
  const output = prf('sha256', hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
  assert.equal(
    output.toString('hex'),
    'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
  );
});

test('the PRF with SHA-384 reproduces the published 148-byte test label vector', () => {
  const output = prf('sha384', hex('b80b733d6ceefcdc71566ea48e5567df'), 'test label', hex('cd665cf6a8447dd6ff8b27555edb7465'), 148);
  assert.equal(
    output.toString('hex'),
    '7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f',
  );
});

test('a shorter PRF output is a prefix of a longer one', () => {
  const secret = hex('00112233');
  const long = prf('sha256', secret, 'label', hex('abcd'), 77);
  for (const length of [0, 1, 31, 32, 33, 64]) {
    assert.deepEqual(prf('sha256', secret, 'label', hex('abcd'), length), long.subarray(0, length));
  }
});

test('the plain PSK premaster is zeros of the PSK length, then the PSK, both length-prefixed', () => {
  assert.equal(pskPremasterSecret(Buffer.from('abc')).toString('hex'), '0003000000' + '0003616263');
});

test('the ECDHE-PSK premaster carries the shared secret as other_secret', () => {
  const shared = Buffer.alloc(32, 7);
  const premaster = pskPremasterSecret(Buffer.from('k'), shared);
  assert.equal(premaster.readUInt16BE(0), 32);
  assert.deepEqual(premaster.subarray(2, 34), shared);
  assert.equal(premaster.subarray(34).toString('hex'), '00016b');
});

test('the extended master secret is 48 bytes of the PRF under its label', () => {
  const premaster = pskPremasterSecret(Buffer.from('secret'));
  const sessionHash = Buffer.alloc(32, 1);
  const master = extendedMasterSecret('sha256', premaster, sessionHash);
  assert.equal(master.length, 48);
  assert.deepEqual(master, prf('sha256', premaster, 'extended master secret', sessionHash, 48));
});

test('the key block is sliced as client key, server key, client IV, server IV for every suite', () => {
  const master = Buffer.alloc(48, 3);
  const clientRandom = Buffer.alloc(32, 1);
  const serverRandom = Buffer.alloc(32, 2);
  for (const id of Object.values(CipherSuiteId)) {
    const suite = cipherSuiteById(id)!;
    const keys = expandKeyBlock(suite, master, clientRandom, serverRandom);
    const whole = prf('sha256', master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (suite.keyLength + suite.fixedIvLength));
    assert.deepEqual(Buffer.concat([keys.clientWriteKey, keys.serverWriteKey, keys.clientWriteIv, keys.serverWriteIv]), whole);
    assert.equal(keys.clientWriteKey.length, suite.keyLength);
    assert.equal(keys.serverWriteIv.length, suite.fixedIvLength);
  }
});

test('Finished verify_data differs per sender and is 12 bytes', () => {
  const master = Buffer.alloc(48, 9);
  const hash = Buffer.alloc(32, 4);
  const client = finishedVerifyData('sha256', master, 'client', hash);
  const server = finishedVerifyData('sha256', master, 'server', hash);
  assert.equal(client.length, 12);
  assert.notDeepEqual(client, server);
  assert.deepEqual(client, prf('sha256', master, 'client finished', hash, 12));
});

test('X25519 key pairs agree on one shared secret', () => {
  const alice = generateX25519KeyPair();
  const bob = generateX25519KeyPair();
  assert.equal(alice.publicKey.length, 32);
  const fromAlice = x25519SharedSecret(alice.privateKey, bob.publicKey);
  const fromBob = x25519SharedSecret(bob.privateKey, alice.publicKey);
  assert.ok(Buffer.isBuffer(fromAlice) && Buffer.isBuffer(fromBob));
  assert.deepEqual(fromAlice, fromBob);
});

test('X25519 refuses a wrong-length or low-order peer key with an error value', () => {
  const ours = generateX25519KeyPair();
  const short = x25519SharedSecret(ours.privateKey, Buffer.alloc(31));
  assert.ok(short instanceof X25519Error);
  assert.match(short.message, /31 bytes/);
  // The all-zero point has order 1: every scalar maps it to the all-zero secret (RFC 7748 6.1).
  assert.ok(x25519SharedSecret(ours.privateKey, Buffer.alloc(32)) instanceof X25519Error);
});
