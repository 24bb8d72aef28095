// AEAD tests: published known answers, agreement between sodium and node:crypto's ChaCha20-Poly1305,
// in-place round trips, and tampering of every input detected without an exception.
import { strict as assert } from 'node:assert';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createAead } from '../../src/dtls/cipher/aead';
import type { AeadKind } from '../../src/dtls/cipher/suites';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const kinds: Array<{ kind: AeadKind; keyLength: number; tagLength: number }> = [
  { kind: 'aes-128-ccm-8', keyLength: 16, tagLength: 8 },
  { kind: 'aes-128-gcm', keyLength: 16, tagLength: 16 },
  { kind: 'chacha20-poly1305', keyLength: 32, tagLength: 16 },
];

function sealToNew(kind: AeadKind, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const aead = createAead(kind, key);
  const sealed = Buffer.alloc(plaintext.length + aead.tagLength);
  aead.seal(nonce, aad, plaintext, sealed);
  return sealed;
}

test('ChaCha20-Poly1305 reproduces the RFC 8439 2.8.2 example', () => {
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('070000004041424344454647');
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = sealToNew('chacha20-poly1305', key, nonce, aad, plaintext);
  assert.equal(sealed.subarray(0, 16).toString('hex'), 'd31a8d34648e60db7b86afbc53ef7ec2');
  assert.equal(sealed.subarray(plaintext.length).toString('hex'), '1ae10b594f09e26a7e902ecbd0600691');
});

test('AES-128-GCM reproduces test case 4 of the GCM specification', () => {
  const key = hex('feffe9928665731c6d6a8f9467308308');
  const nonce = hex('cafebabefacedbaddecaf888');
  const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
  const plaintext = hex(`d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525
    b16aedf5aa0de657ba637b39`);
  const sealed = sealToNew('aes-128-gcm', key, nonce, aad, plaintext);
  assert.equal(
    sealed.toString('hex'),
    '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' +
      '5bc94fbc3221a5db94fae95ae7121a47',
  );
});

test('sodium ChaCha20-Poly1305 agrees with node:crypto on random inputs', () => {
  for (const length of [0, 1, 63, 64, 65, 1200, 1400]) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const plaintext = randomBytes(length);
    const reference = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    reference.setAAD(aad, { plaintextLength: length });
    const expected = Buffer.concat([reference.update(plaintext), reference.final(), reference.getAuthTag()]);
    assert.deepEqual(sealToNew('chacha20-poly1305', key, nonce, aad, plaintext), expected);
  }
});

for (const { kind, keyLength, tagLength } of kinds) {
  test(`${kind} seals and opens in place, for empty to 1,400-byte payloads`, () => {
    const key = randomBytes(keyLength);
    const aead = createAead(kind, key);
    assert.equal(aead.tagLength, tagLength);
    for (const length of [0, 1, 16, 17, 1200, 1400]) {
      const nonce = randomBytes(12);
      const aad = randomBytes(13);
      const plaintext = randomBytes(length);
      const buffer = Buffer.alloc(length + tagLength);
      plaintext.copy(buffer);
      aead.seal(nonce, aad, buffer.subarray(0, length), buffer);
      // Sealing in place gives exactly what sealing into a separate buffer gives (a comparison with
      // the plaintext would fail by chance: a 1-byte ciphertext equals it once in 256 runs).
      assert.deepEqual(buffer, sealToNew(kind, key, nonce, aad, plaintext));
      assert.equal(aead.open(nonce, aad, buffer, buffer), length);
      assert.deepEqual(buffer.subarray(0, length), plaintext);
    }
  });

  test(`${kind} open returns -1 for a changed ciphertext, tag, AAD, nonce or key, and releases no plaintext`, () => {
    const key = randomBytes(keyLength);
    const aead = createAead(kind, key);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const plaintext = randomBytes(100);
    const sealed = Buffer.alloc(100 + tagLength);
    aead.seal(nonce, aad, plaintext, sealed);
    const flip = (bytes: Buffer, index: number): Buffer => {
      const copy = Buffer.from(bytes);
      copy[index]! ^= 0x01;
      return copy;
    };
    const out = Buffer.alloc(100, 0xee);
    assert.equal(aead.open(nonce, aad, flip(sealed, 0), out), -1);
    assert.equal(aead.open(nonce, aad, flip(sealed, 99), out), -1);
    assert.equal(aead.open(nonce, aad, flip(sealed, 100 + tagLength - 1), out), -1);
    assert.equal(aead.open(nonce, flip(aad, 12), sealed, out), -1);
    assert.equal(aead.open(flip(nonce, 11), aad, sealed, out), -1);
    assert.equal(createAead(kind, flip(key, 0)).open(nonce, aad, sealed, out), -1);
    assert.equal(aead.open(nonce, aad, sealed.subarray(0, tagLength - 1), out), -1);
    // Unverified plaintext must never reach the caller (GCM computes it before the tag check).
    assert.notDeepEqual(out, plaintext);
    assert.equal(aead.open(nonce, aad, sealed, out), 100);
    assert.deepEqual(out, plaintext);
  });

  test(`${kind} refuses a key of the wrong length`, () => {
    assert.throws(() => createAead(kind, Buffer.alloc(keyLength + 1)), /needs a \d+-byte key/);
  });
}
