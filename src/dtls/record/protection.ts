// One direction's record protection for one epoch (RFC 5246 6.2.3.3 with RFC 6347's epoch+sequence):
// builds each record's nonce and additional data, then seals or opens with the suite's AEAD.
import { createAead, AEAD_NONCE_LENGTH, type Aead } from '../cipher/aead';
import type { AeadKind, CipherSuite } from '../cipher/suites';

const AAD_LENGTH = 13;

export class RecordProtection {
  readonly explicitNonceLength: number;
  readonly tagLength: number;
  readonly aeadKind: AeadKind;
  /** Kept only to hand a read epoch to native code (ReadHandover); never logged. */
  readonly key: Buffer;
  readonly fixedIv: Buffer;
  private readonly aead: Aead;
  /** Scratch, reused by every record: one protection is used by one receive or send loop at a time. */
  private readonly nonce = Buffer.alloc(AEAD_NONCE_LENGTH);
  private readonly aad = Buffer.alloc(AAD_LENGTH);

  /** `implementation`: see createAead; the record layer always takes the fastest. */
  constructor(suite: CipherSuite, key: Uint8Array, fixedIv: Uint8Array, implementation: 'fastest' | 'reference' = 'fastest') {
    if (fixedIv.length !== suite.fixedIvLength) {
      throw new RangeError(`${suite.name} needs a ${suite.fixedIvLength}-byte IV, got ${fixedIv.length} bytes`);
    }
    this.aead = createAead(suite.aead, key, implementation);
    this.aeadKind = suite.aead;
    this.key = Buffer.from(key);
    this.fixedIv = Buffer.from(fixedIv);
    this.explicitNonceLength = suite.explicitNonceLength;
    this.tagLength = suite.tagLength;
    // The nonce's first 4 bytes never change: the AES salt, or the ChaCha IV XOR zero padding.
    this.nonce.set(this.fixedIv.subarray(0, 4));
  }

  /** Bytes this protection adds to a plaintext fragment. */
  get expansion(): number {
    return this.explicitNonceLength + this.tagLength;
  }

  /**
   * `record` holds a finished 13-byte header (its length already the sealed length) and room for
   * the sealed fragment; writes explicit nonce, ciphertext and tag after the header.
   */
  seal(record: Buffer, plaintext: Uint8Array): void {
    // The header's epoch+sequence (bytes 3..10) is exactly the 8-byte seq_num both nonce rules use.
    if (this.explicitNonceLength > 0) {
      for (let i = 0; i < 8; i++) record[13 + i] = record[3 + i]!;
    }
    this.prepare(record, 0, 3, plaintext.length);
    this.aead.seal(this.nonce, this.aad, plaintext, record.subarray(13 + this.explicitNonceLength));
  }

  /**
   * Opens the record whose header is at `offset`, in place: the plaintext overwrites the ciphertext.
   * Returns a view of the plaintext, or null for a bad tag or a fragment too short for nonce and tag.
   */
  open(datagram: Buffer, offset: number, fragmentLength: number): Buffer | null {
    const plaintextLength = fragmentLength - this.explicitNonceLength - this.tagLength;
    if (plaintextLength < 0) return null;
    const start = offset + 13 + this.explicitNonceLength;
    this.prepare(datagram, offset, offset + 13, plaintextLength);
    const sealed = datagram.subarray(start, start + plaintextLength + this.tagLength);
    const plaintext = datagram.subarray(start, start + plaintextLength);
    return this.aead.open(this.nonce, this.aad, sealed, plaintext) < 0 ? null : plaintext;
  }

  /**
   * Fills the AAD (seq_num + type + version + plaintext length) from the header at `headerOffset`
   * and the nonce from the explicit nonce at `explicitOffset` (AES) or the header's seq_num (ChaCha).
   */
  private prepare(bytes: Buffer, headerOffset: number, explicitOffset: number, plaintextLength: number): void {
    // Byte loops, not Buffer#copy: for 3 to 8 bytes the native call costs more than the copy.
    const aad = this.aad;
    for (let i = 0; i < 8; i++) aad[i] = bytes[headerOffset + 3 + i]!;
    aad[8] = bytes[headerOffset]!;
    aad[9] = bytes[headerOffset + 1]!;
    aad[10] = bytes[headerOffset + 2]!;
    aad[11] = plaintextLength >>> 8;
    aad[12] = plaintextLength & 0xff;
    const nonce = this.nonce;
    if (this.explicitNonceLength > 0) {
      // RFC 5288 / 6655: the key block's 4-byte salt (set once), then the 8 bytes carried in the record.
      for (let i = 0; i < 8; i++) nonce[4 + i] = bytes[explicitOffset + i]!;
    } else {
      // RFC 7905: the 12-byte IV XOR the seq_num left-padded with zeros.
      const iv = this.fixedIv;
      for (let i = 0; i < 8; i++) nonce[4 + i] = iv[4 + i]! ^ bytes[headerOffset + 3 + i]!;
    }
  }
}
