// ClientKeyExchange for the PSK suites (RFC 4279 2) and ECDHE_PSK (RFC 5489 2). The
// psk_identity is how a meshboi client tells the server its VPN IP.
//
//   PSK:        +--------+--------+--------------------------------+
//               | identity length | psk_identity                   |
//               +--------+--------+--------------------------------+
//   ECDHE_PSK:  the same, then
//               +--------+--------------------------+
//               | pub len| public key (X25519: 32)  |
//               +--------+--------------------------+
import type { KeyExchange } from '../cipher/suites';
import { ByteWriter, decodeWith, fail, type Decoded } from './bytes';

export interface ClientKeyExchange {
  identity: Buffer;
  /** Present exactly for ECDHE_PSK. */
  publicKey: Buffer | null;
}

export function encodeClientKeyExchange(message: ClientKeyExchange): Buffer {
  const writer = new ByteWriter().vector16(message.identity);
  if (message.publicKey) writer.vector8(message.publicKey);
  return writer.finish();
}

export function decodeClientKeyExchange(body: Uint8Array, kind: KeyExchange): Decoded<ClientKeyExchange> {
  return decodeWith(body, 'ClientKeyExchange', (r) => {
    const identity = r.vector16();
    if (kind === 'psk') return { identity, publicKey: null };
    const publicKey = r.vector8();
    if (publicKey.length === 0) fail('bad_value', 'ClientKeyExchange carries an empty public key');
    return { identity, publicKey };
  });
}
