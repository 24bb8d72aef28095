// Flight 1 (client): the first ClientHello, without a cookie. Flight 3 repeats it with one.
import { cipherSuiteById } from '../cipher/suites';
import { X25519_NAMED_GROUP } from '../cipher/x25519';
import { COMPRESSION_NULL, encodeClientHello } from '../handshake/client-hello';
import {
  ecPointFormatsExtension,
  extendedMasterSecretExtension,
  meshboiExtension,
  renegotiationInfoExtension,
  supportedGroupsExtension,
  type Extension,
} from '../handshake/extensions';
import { HandshakeType } from '../handshake/header';
import { ProtocolVersion } from '../record/header';
import type { HandshakeContext } from './context';
import type { Flight, FlightItem } from './flight';

export function flight1(context: HandshakeContext): Flight {
  return { number: 1, items: [clientHello(context, Buffer.alloc(0))], last: false };
}

/**
 * Our ClientHello: our suites in preference order, null compression, an empty session id (no
 * resumption), and the extensions we need: Extended Master Secret (required), an empty
 * renegotiation_info (RFC 5746, as pion sends), our meshboi marker, and X25519 for ECDHE_PSK.
 */
export function clientHello(context: HandshakeContext, cookie: Buffer): FlightItem {
  const extensions: Extension[] = [extendedMasterSecretExtension(), renegotiationInfoExtension()];
  if (context.announceMeshboi) extensions.push(meshboiExtension());
  if (context.cipherSuites.some((id) => cipherSuiteById(id)?.keyExchange === 'ecdhe_psk')) {
    extensions.push(supportedGroupsExtension([X25519_NAMED_GROUP]), ecPointFormatsExtension());
  }
  const body = encodeClientHello({
    clientVersion: ProtocolVersion.dtls12,
    random: context.clientRandom,
    sessionId: Buffer.alloc(0),
    cookie,
    cipherSuites: [...context.cipherSuites],
    compressionMethods: [COMPRESSION_NULL],
    extensions,
  });
  return context.outgoing(HandshakeType.client_hello, body);
}
