// Every handshake decoder behind one signature, for the fuzzer and the codec tests: each takes
// arbitrary bytes and must return a Decoded, never throw.
import type { Decoded } from './bytes';
import { decodeClientHello } from './client-hello';
import { decodeClientKeyExchange } from './client-key-exchange';
import {
  decodeEcPointFormats,
  decodeMeshboi,
  decodeRenegotiationInfo,
  decodeSignatureAlgorithms,
  decodeSupportedGroups,
} from './extensions';
import { decodeFinished } from './finished';
import { decodeHandshakeFragments } from './header';
import { decodeHelloVerifyRequest } from './hello-verify-request';
import { decodeServerHello } from './server-hello';
import { decodeServerHelloDone } from './server-hello-done';
import { decodeServerKeyExchange } from './server-key-exchange';

export interface NamedDecoder {
  name: string;
  decode: (bytes: Uint8Array) => Decoded<unknown>;
}

export const handshakeDecoders: readonly NamedDecoder[] = [
  { name: 'handshake fragments', decode: decodeHandshakeFragments },
  { name: 'ClientHello', decode: decodeClientHello },
  { name: 'HelloVerifyRequest', decode: decodeHelloVerifyRequest },
  { name: 'ServerHello', decode: decodeServerHello },
  { name: 'ServerKeyExchange (PSK)', decode: (bytes) => decodeServerKeyExchange(bytes, 'psk') },
  { name: 'ServerKeyExchange (ECDHE_PSK)', decode: (bytes) => decodeServerKeyExchange(bytes, 'ecdhe_psk') },
  { name: 'ServerHelloDone', decode: decodeServerHelloDone },
  { name: 'ClientKeyExchange (PSK)', decode: (bytes) => decodeClientKeyExchange(bytes, 'psk') },
  { name: 'ClientKeyExchange (ECDHE_PSK)', decode: (bytes) => decodeClientKeyExchange(bytes, 'ecdhe_psk') },
  { name: 'Finished', decode: decodeFinished },
  { name: 'renegotiation_info', decode: decodeRenegotiationInfo },
  { name: 'meshboi extension', decode: decodeMeshboi },
  { name: 'supported_groups', decode: decodeSupportedGroups },
  { name: 'ec_point_formats', decode: decodeEcPointFormats },
  { name: 'signature_algorithms', decode: decodeSignatureAlgorithms },
];
