// The native AES record AEAD (native/aead.cc) against the TypeScript engine's node:crypto reference:
// the same keys and sequence numbers seal to the same bytes, each opens the other's records, and a
// tampered record opens to -1 with no plaintext left behind.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createAead } from '../../src/dtls/cipher/aead';
import { nativeAesAead } from '../../src/dtls/cipher/native-aead';
import { CIPHER_SUITES } from '../../src/dtls/cipher/suites';
import { expandKeyBlock } from '../../src/dtls/prf';
import { ContentType, ProtocolVersion, RECORD_HEADER_LENGTH, writeRecordHeader } from '../../src/dtls/record/header';
import { RecordProtection } from '../../src/dtls/record/protection';

const AES_SUITES = CIPHER_SUITES.filter((suite) => suite.aead !== 'chacha20-poly1305');
const LENGTHS = [0, 1, 15, 16, 17, 255, 1200, 1400, 16384];

test('the native AES addon loads (run npm install if not)', () => {
  assert.notEqual(nativeAesAead('aes-128-gcm', randomBytes(16)), null);
});

/** One application_data record of `plaintext` at (epoch, sequence), sealed by `protection`. */
function sealRecord(protection: RecordProtection, epoch: number, sequence: number, plaintext: Buffer): Buffer {
  const length = plaintext.length + protection.expansion;
  const record = Buffer.alloc(RECORD_HEADER_LENGTH + length);
  writeRecordHeader(record, 0, ContentType.applicationData, ProtocolVersion.dtls12, epoch, sequence, length);
  protection.seal(record, plaintext);
  return record;
}

for (const suite of AES_SUITES) {
  test(`${suite.name}: native and reference records are byte for byte the same for the same keys and sequence numbers`, () => {
    const keys = expandKeyBlock(suite, randomBytes(48), randomBytes(32), randomBytes(32));
    const native = new RecordProtection(suite, keys.clientWriteKey, keys.clientWriteIv);
    const reference = new RecordProtection(suite, keys.clientWriteKey, keys.clientWriteIv, 'reference');
    const sequences = [0, 1, 2, 255, 256, 65_535, 2 ** 32, 2 ** 48 - 1];
    for (const [index, sequence] of sequences.entries()) {
      for (const length of LENGTHS) {
        const plaintext = randomBytes(length);
        const epoch = 1 + (index % 3);
        const fromNative = sealRecord(native, epoch, sequence, plaintext);
        const fromReference = sealRecord(reference, epoch, sequence, plaintext);
        assert.deepEqual(fromNative, fromReference, `epoch ${epoch} sequence ${sequence}, ${length} bytes`);
        // Each opens the other's record in place.
        for (const [opener, record] of [[native, fromReference], [reference, Buffer.from(fromNative)]] as const) {
          assert.deepEqual(opener.open(record, 0, record.length - RECORD_HEADER_LENGTH), plaintext);
        }
      }
    }
  });

  test(`${suite.name}: a tampered record opens to nothing in both, and the native one leaves no plaintext`, () => {
    const key = randomBytes(16);
    const native = createAead(suite.aead, key);
    const reference = createAead(suite.aead, key, 'reference');
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const plaintext = randomBytes(1200);
    const sealed = Buffer.alloc(plaintext.length + native.tagLength);
    native.seal(nonce, aad, plaintext, sealed);
    for (const position of [0, 600, plaintext.length, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[position] ^= 1;
      const out = Buffer.alloc(plaintext.length, 0xee);
      assert.equal(native.open(nonce, aad, tampered, out), -1);
      assert.ok(out.every((byte) => byte === 0), 'the native open zeroes what it wrote');
      assert.equal(reference.open(nonce, aad, tampered, Buffer.alloc(plaintext.length)), -1);
    }
    const otherAad = Buffer.from(aad);
    otherAad[12] ^= 1;
    assert.equal(native.open(nonce, otherAad, sealed, Buffer.alloc(plaintext.length)), -1);
    assert.equal(native.open(nonce, aad, sealed.subarray(0, native.tagLength - 1), Buffer.alloc(0)), -1);
  });
}
