// One direction's record protection for one epoch (RFC 5246 6.2.3.3 with RFC 6347's epoch+sequence):
// builds each record's nonce and additional data, then seals or opens with the suite's AEAD.
import { createAead, AEAD_NONCE_LENGTH, type Aead } from '../cipher/aead';
import type { CipherSuite } from '../cipher/suites';

const AAD_LENGTH = 13;

export class RecordProtection {
  readonly explicitNonceLength: number;
  readonly tagLength: number;
  private readonly aead: Aead;
  private readonly fixedIv: Buffer;
  /** Scratch, reused by every record: one protection is used by one receive or send loop at a time. */
  private readonly nonce = Buffer.alloc(AEAD_NONCE_LENGTH);
  private readonly aad = Buffer.alloc(AAD_LENGTH);

  constructor(suite: CipherSuite, key: Uint8Array, fixedIv: Uint8Array) {
    if (fixedIv.length !== suite.fixedIvLength) {
      throw new RangeError(`${suite.name} needs a ${suite.fixedIvLength}-byte IV, got ${fixedIv.length} bytes`);
    }
    this.aead = createAead(suite.aead, key);
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
    if (this.explicitNonceLength > 0) record.copy(record, 13, 3, 11);
    this.prepare(record, 0, 3, plaintext.length);
    this.aead.seal(this.nonce, this.aad, plaintext, record.subarray(13 + this.explicitNonceLength));
  }

  /**
   * Opens the record whose header is at `offset`, in place: the plaintext overwrites the ciphertext
   * and starts at `offset + 13 + explicitNonceLength`. Returns the plaintext length, or -1 for a
   * bad tag or a fragment too short to hold nonce and tag.
   */
  open(datagram: Buffer, offset: number, fragmentLength: number): number {
    const plaintextLength = fragmentLength - this.explicitNonceLength - this.tagLength;
    if (plaintextLength < 0) return -1;
    const start = offset + 13 + this.explicitNonceLength;
    this.prepare(datagram, offset, offset + 13, plaintextLength);
    const sealed = datagram.subarray(start, start + plaintextLength + this.tagLength);
    return this.aead.open(this.nonce, this.aad, sealed, sealed);
  }

  /**
   * Fills the AAD (seq_num + type + version + plaintext length) from the header at `headerOffset`
   * and the nonce from the explicit nonce at `explicitOffset` (AES) or the header's seq_num (ChaCha).
   */
  private prepare(bytes: Buffer, headerOffset: number, explicitOffset: number, plaintextLength: number): void {
    const aad = this.aad;
    bytes.copy(aad, 0, headerOffset + 3, headerOffset + 11);
    bytes.copy(aad, 8, headerOffset, headerOffset + 3);
    aad[11] = plaintextLength >>> 8;
    aad[12] = plaintextLength & 0xff;
    const nonce = this.nonce;
    if (this.explicitNonceLength > 0) {
      // RFC 5288 / 6655: the key block's 4-byte salt (set once), then the 8 bytes carried in the record.
      bytes.copy(nonce, 4, explicitOffset, explicitOffset + 8);
    } else {
      // RFC 7905: the 12-byte IV XOR the seq_num left-padded with zeros.
      const iv = this.fixedIv;
      for (let i = 0; i < 8; i++) nonce[4 + i] = iv[4 + i]! ^ bytes[headerOffset + 3 + i]!;
    }
  }
}
