// X25519 (RFC 7748) for TLS_ECDHE_PSK_*: ephemeral key pairs and the shared secret that becomes the
// premaster's other_secret (RFC 5489). Public keys travel raw (32 bytes, RFC 8422 5.4).
import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';

export const X25519_KEY_LENGTH = 32;
/** The TLS NamedGroup number of x25519 (RFC 8422). */
export const X25519_NAMED_GROUP = 0x001d;

// DER SubjectPublicKeyInfo for an X25519 key is this fixed prefix followed by the 32 raw bytes.
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface X25519KeyPair {
  privateKey: KeyObject;
  /** The raw 32-byte public value as sent in ServerKeyExchange / ClientKeyExchange. */
  publicKey: Buffer;
}

export class X25519Error extends Error {
  override readonly name = 'X25519Error';
}

export function generateX25519KeyPair(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: spki.subarray(SPKI_PREFIX.length) };
}

/** The shared secret, or an X25519Error when the peer's value is malformed or of low order. */
export function x25519SharedSecret(privateKey: KeyObject, peerPublicKey: Uint8Array): Buffer | X25519Error {
  if (peerPublicKey.length !== X25519_KEY_LENGTH) {
    return new X25519Error(`peer's X25519 public key has ${peerPublicKey.length} bytes, expected 32`);
  }
  try {
    const publicKey = createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, peerPublicKey]),
      format: 'der',
      type: 'spki',
    });
    return diffieHellman({ privateKey, publicKey });
  } catch {
    // OpenSSL refuses an all-zero result (a low-order peer point, RFC 7748 6.1).
    return new X25519Error("peer's X25519 public key is invalid (low-order point)");
  }
}
