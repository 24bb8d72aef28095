// ServerKeyExchange for the PSK suites (RFC 4279 2) and ECDHE_PSK (RFC 5489 2, curves per
// RFC 8422 5.4). The identity hint is how a meshboi server tells the client its VPN IP.
//
//   PSK:        +--------+--------+--------------------------------+
//               | hint length     | psk_identity_hint              |
//               +--------+--------+--------------------------------+
//   ECDHE_PSK:  the same, then
//               +--------+--------+--------+--------+--------------------------+
//               |curve_ty| named_curve     | pub len| public key (X25519: 32)  |
//               +--------+--------+--------+--------+--------------------------+
import type { KeyExchange } from '../cipher/suites';
import { ByteWriter, decodeWith, fail, type ByteReader, type Decoded } from './bytes';

/** RFC 8422 5.4: ECCurveType named_curve. */
export const CURVE_TYPE_NAMED = 3;

export interface EcdhParams {
  namedCurve: number;
  publicKey: Buffer;
}

export interface ServerKeyExchange {
  identityHint: Buffer;
  /** Present exactly for ECDHE_PSK. */
  ecdh: EcdhParams | null;
}

export function encodeServerKeyExchange(message: ServerKeyExchange): Buffer {
  const writer = new ByteWriter().vector16(message.identityHint);
  if (message.ecdh) writer.u8(CURVE_TYPE_NAMED).u16(message.ecdh.namedCurve).vector8(message.ecdh.publicKey);
  return writer.finish();
}

export function decodeServerKeyExchange(body: Uint8Array, kind: KeyExchange): Decoded<ServerKeyExchange> {
  return decodeWith(body, 'ServerKeyExchange', (r) => {
    const identityHint = r.vector16();
    return { identityHint, ecdh: kind === 'ecdhe_psk' ? readEcdhParams(r) : null };
  });
}

function readEcdhParams(r: ByteReader): EcdhParams {
  const curveType = r.u8();
  if (curveType !== CURVE_TYPE_NAMED) fail('bad_value', `ServerKeyExchange curve type ${curveType} is not named_curve (3)`);
  const namedCurve = r.u16();
  const publicKey = r.vector8();
  if (publicKey.length === 0) fail('bad_value', 'ServerKeyExchange carries an empty public key');
  return { namedCurve, publicKey };
}
