// The record layer's AEAD seam: one small interface and one factory, so each suite can use the
// fastest well-kept implementation (sodium for ChaCha20-Poly1305, the native addon for AES, with
// node:crypto as the reference and the fallback).
import { AEAD_PARAMETERS, type AeadKind } from './suites';
import { nativeAesAead } from './native-aead';
import { NodeAead } from './node-aead';
import { SodiumChaCha20Poly1305 } from './sodium-aead';

export const AEAD_NONCE_LENGTH = 12;

/** One key's AEAD. Implementations keep no per-record state, so one object serves a whole epoch. */
export interface Aead {
  readonly kind: AeadKind;
  readonly tagLength: number;
  /**
   * Writes `plaintext.length + tagLength` bytes (ciphertext, then tag) at the start of `out`.
   * `out` may begin at the plaintext's own first byte (sealing in place).
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /**
   * `sealed` is ciphertext followed by the tag. Writes the plaintext at the start of `out` (which
   * may be `sealed` itself) and returns its length, or returns -1 without throwing when the tag
   * does not verify; `out` then holds no plaintext (it may be zeroed or left as it was).
   */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): number;
}

/** `reference` picks node:crypto for AES even where the native addon loads (tests compare the two). */
export function createAead(kind: AeadKind, key: Uint8Array, implementation: 'fastest' | 'reference' = 'fastest'): Aead {
  const keyLength = AEAD_PARAMETERS[kind].keyLength;
  if (key.length !== keyLength) throw new RangeError(`${kind} needs a ${keyLength}-byte key, got ${key.length} bytes`);
  switch (kind) {
    case 'aes-128-ccm-8':
    case 'aes-128-gcm':
      return (implementation === 'fastest' ? nativeAesAead(kind, key) : null) ?? new NodeAead(kind, key);
    case 'chacha20-poly1305':
      return new SodiumChaCha20Poly1305(key);
  }
}
