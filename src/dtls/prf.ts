// TLS 1.2 key schedule for the PSK suites: the PRF (RFC 5246 5), PSK premaster secrets
// (RFC 4279 2, RFC 5489 2), extended master secret (RFC 7627 4), key block and Finished verify_data.
import { createHash, createHmac } from 'node:crypto';
import type { Role } from './api';
import type { CipherSuite, PrfHash } from './cipher/suites';

export const MASTER_SECRET_LENGTH = 48;
export const VERIFY_DATA_LENGTH = 12;
export const RANDOM_LENGTH = 32;

/** PRF(secret, label, seed) = P_hash(secret, label + seed), truncated to `length` bytes. */
export function prf(hash: PrfHash, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  const labelAndSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const output = Buffer.allocUnsafe(length);
  // A(0) = seed; A(i) = HMAC(secret, A(i-1)); output = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...
  let a: Buffer = labelAndSeed;
  let written = 0;
  while (written < length) {
    a = createHmac(hash, secret).update(a).digest();
    const block = createHmac(hash, secret).update(a).update(labelAndSeed).digest();
    written += block.copy(output, written, 0, Math.min(block.length, length - written));
  }
  return output;
}

/**
 * RFC 4279 premaster secret: other_secret (length-prefixed) then the PSK (length-prefixed).
 * Plain PSK uses as many zero bytes as the PSK has; ECDHE-PSK (RFC 5489) passes the X25519 result.
 */
export function pskPremasterSecret(psk: Uint8Array, otherSecret: Uint8Array = Buffer.alloc(psk.length)): Buffer {
  const premaster = Buffer.allocUnsafe(4 + otherSecret.length + psk.length);
  premaster.writeUInt16BE(otherSecret.length, 0);
  premaster.set(otherSecret, 2);
  premaster.writeUInt16BE(psk.length, 2 + otherSecret.length);
  premaster.set(psk, 4 + otherSecret.length);
  return premaster;
}

/** The running hash of the handshake messages as PRF input, for EMS and Finished. */
export function transcriptHash(hash: PrfHash, messages: readonly Uint8Array[]): Buffer {
  const digest = createHash(hash);
  for (const message of messages) digest.update(message);
  return digest.digest();
}

/** RFC 7627: the session hash covers ClientHello through ClientKeyExchange (DTLS headers included). */
export function extendedMasterSecret(hash: PrfHash, premasterSecret: Uint8Array, sessionHash: Uint8Array): Buffer {
  return prf(hash, premasterSecret, 'extended master secret', sessionHash, MASTER_SECRET_LENGTH);
}

/** The AEAD suites need no MAC keys, so the key block is just the two keys and the two IVs. */
export interface KeyBlock {
  clientWriteKey: Buffer;
  serverWriteKey: Buffer;
  clientWriteIv: Buffer;
  serverWriteIv: Buffer;
}

export function expandKeyBlock(
  suite: CipherSuite,
  masterSecret: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): KeyBlock {
  const keyLength = suite.keyLength;
  const ivLength = suite.fixedIvLength;
  const seed = Buffer.concat([serverRandom, clientRandom]);
  const block = prf(suite.prfHash, masterSecret, 'key expansion', seed, 2 * (keyLength + ivLength));
  return {
    clientWriteKey: block.subarray(0, keyLength),
    serverWriteKey: block.subarray(keyLength, 2 * keyLength),
    clientWriteIv: block.subarray(2 * keyLength, 2 * keyLength + ivLength),
    serverWriteIv: block.subarray(2 * keyLength + ivLength, 2 * (keyLength + ivLength)),
  };
}

/** verify_data of the Finished message sent by `sender`, over the hash of all earlier handshake messages. */
export function finishedVerifyData(
  hash: PrfHash,
  masterSecret: Uint8Array,
  sender: Role,
  handshakeHash: Uint8Array,
): Buffer {
  const label = sender === 'client' ? 'client finished' : 'server finished';
  return prf(hash, masterSecret, label, handshakeHash, VERIFY_DATA_LENGTH);
}
