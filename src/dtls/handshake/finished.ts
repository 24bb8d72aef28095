// Finished (RFC 5246 7.4.9): verify_data, 12 bytes for every suite we speak, proving both sides
// hold the same master secret and saw the same handshake.
//
//   +------------------------------------------------+
//   | verify_data (12 bytes)                         |
//   +------------------------------------------------+
import { VERIFY_DATA_LENGTH } from '../prf';
import { decodeWith, fail, type Decoded } from './bytes';

export interface Finished {
  verifyData: Buffer;
}

export function encodeFinished(message: Finished): Buffer {
  return Buffer.from(message.verifyData);
}

export function decodeFinished(body: Uint8Array): Decoded<Finished> {
  return decodeWith(body, 'Finished', (r) => {
    if (r.remaining !== VERIFY_DATA_LENGTH) fail('bad_value', `Finished carries ${r.remaining} bytes of verify_data; expected ${VERIFY_DATA_LENGTH}`);
    return { verifyData: r.rest() };
  });
}
