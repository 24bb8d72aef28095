// ChaCha20-Poly1305 (IETF, 96-bit nonce, RFC 8439) through sodium-native: one native call per record,
// no per-record objects, and libsodium seals and opens in place.
import sodium from 'sodium-native';
import type { Aead } from './aead';

// @types/sodium-native lacks the IETF ChaCha20-Poly1305 bindings that sodium-native 4 ships.
interface SodiumChaChaBinding {
  crypto_aead_chacha20poly1305_ietf_encrypt(
    ciphertext: Uint8Array,
    message: Uint8Array,
    additionalData: Uint8Array | null,
    nsec: null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    message: Uint8Array,
    nsec: null,
    ciphertext: Uint8Array,
    additionalData: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
}

export const sodiumChaCha = sodium as unknown as SodiumChaChaBinding;

export class SodiumChaCha20Poly1305 implements Aead {
  readonly kind = 'chacha20-poly1305' as const;
  readonly tagLength = 16;
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    this.key = Buffer.from(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    const sealedLength = plaintext.length + 16;
    const target = out.length === sealedLength ? out : out.subarray(0, sealedLength);
    sodiumChaCha.crypto_aead_chacha20poly1305_ietf_encrypt(target, plaintext, aad, null, nonce, this.key);
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): number {
    const length = sealed.length - 16;
    if (length < 0) return -1;
    const target = out.length === length ? out : out.subarray(0, length);
    try {
      sodiumChaCha.crypto_aead_chacha20poly1305_ietf_decrypt(target, null, sealed, aad, nonce, this.key);
    } catch {
      // sodium-native throws "could not verify data" on a bad tag; libsodium zeroed the output.
      return -1;
    }
    return length;
  }
}
