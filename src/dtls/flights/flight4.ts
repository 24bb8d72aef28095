// Flight 4 (server): read the client's (cookie-checked) ClientHello, choose a suite, and answer with
// ServerHello, ServerKeyExchange (our identity hint, plus X25519 for ECDHE_PSK) and ServerHelloDone.
import { randomBytes } from 'node:crypto';
import { AlertDescription } from '../alert';
import { cipherSuiteById, type CipherSuite } from '../cipher/suites';
import { generateX25519KeyPair, X25519_NAMED_GROUP } from '../cipher/x25519';
import { RANDOM_LENGTH } from '../prf';
import { COMPRESSION_NULL, decodeClientHello, RENEGOTIATION_INFO_SCSV, type ClientHello } from '../handshake/client-hello';
import {
  decodeSupportedGroups,
  ecPointFormatsExtension,
  ExtensionType,
  extendedMasterSecretExtension,
  findExtension,
  meshboiExtension,
  renegotiationInfoExtension,
  type Extension,
} from '../handshake/extensions';
import type { HandshakeMessage } from '../handshake/fragmentation';
import { HandshakeType } from '../handshake/header';
import { encodeServerHello } from '../handshake/server-hello';
import { encodeServerHelloDone } from '../handshake/server-hello-done';
import { encodeServerKeyExchange } from '../handshake/server-key-exchange';
import { ProtocolVersion } from '../record/header';
import { handshakeFailure, type HandshakeContext, type HandshakeFailure } from './context';
import type { Flight } from './flight';
import { carriesMeshboiMarker, checkHelloExtensions } from './hello-extensions';

export function flight4(context: HandshakeContext, message: HandshakeMessage): Flight | HandshakeFailure {
  const decoded = decodeClientHello(message.body);
  if (!decoded.ok) return handshakeFailure(AlertDescription.decode_error, `the client's ClientHello is malformed: ${decoded.error.message}`);
  const hello = decoded.value;
  // DTLS version numbers count down: 0xFEFD (1.2) is newer than 0xFEFF (1.0).
  if (hello.clientVersion > ProtocolVersion.dtls12) {
    return handshakeFailure(AlertDescription.protocol_version, `the client offers DTLS version 0x${hello.clientVersion.toString(16)}; we speak only DTLS 1.2`);
  }
  if (!hello.compressionMethods.includes(COMPRESSION_NULL)) {
    return handshakeFailure(AlertDescription.handshake_failure, 'the client does not offer null compression');
  }
  const extensionFailure = checkHelloExtensions(hello.extensions, 'client');
  if (extensionFailure) return extensionFailure;
  const suite = chooseSuite(context, hello);
  if (!suite) {
    const offered = hello.cipherSuites.map((id) => `0x${id.toString(16).padStart(4, '0')}`).join(', ');
    return handshakeFailure(
      AlertDescription.handshake_failure,
      `no cipher suite in common: the client offers ${offered}; we accept ${context.cipherSuites.map((id) => cipherSuiteById(id)!.name).join(', ')}`,
    );
  }

  context.incoming(message);
  context.suite = suite;
  context.clientRandom = hello.random;
  context.serverRandom = randomBytes(RANDOM_LENGTH);
  context.peerIsMeshboi = context.announceMeshboi && carriesMeshboiMarker(hello.extensions);

  const extensions: Extension[] = [];
  const renegotiation = findExtension(hello.extensions, ExtensionType.renegotiation_info);
  if (renegotiation || hello.cipherSuites.includes(RENEGOTIATION_INFO_SCSV)) extensions.push(renegotiationInfoExtension());
  extensions.push(extendedMasterSecretExtension());
  // Echoed only when offered: an original client would not expect an extension it never sent.
  if (context.peerIsMeshboi) extensions.push(meshboiExtension());
  if (suite.keyExchange === 'ecdhe_psk') extensions.push(ecPointFormatsExtension());
  const serverHello = encodeServerHello({
    serverVersion: ProtocolVersion.dtls12,
    random: context.serverRandom,
    sessionId: Buffer.alloc(0),
    cipherSuite: suite.id,
    compressionMethod: COMPRESSION_NULL,
    extensions,
  });

  const items = [context.outgoing(HandshakeType.server_hello, serverHello)];
  if (suite.keyExchange === 'ecdhe_psk') context.keyPair = generateX25519KeyPair();
  // RFC 4279 2: plain PSK omits ServerKeyExchange when there is no hint to give.
  if (context.keyPair || context.identity !== '') {
    const serverKeyExchange = encodeServerKeyExchange({
      identityHint: Buffer.from(context.identity, 'utf8'),
      ecdh: context.keyPair ? { namedCurve: X25519_NAMED_GROUP, publicKey: context.keyPair.publicKey } : null,
    });
    items.push(context.outgoing(HandshakeType.server_key_exchange, serverKeyExchange));
  }
  items.push(context.outgoing(HandshakeType.server_hello_done, encodeServerHelloDone()));
  return { number: 4, items, last: false };
}

/** Our preference decides among the suites the client offers; ECDHE_PSK needs the client's X25519. */
function chooseSuite(context: HandshakeContext, hello: ClientHello): CipherSuite | undefined {
  const groups = findExtension(hello.extensions, ExtensionType.supported_groups);
  const decodedGroups = groups ? decodeSupportedGroups(groups.data) : null;
  const clientHasX25519 = decodedGroups?.ok === true && decodedGroups.value.includes(X25519_NAMED_GROUP);
  for (const id of context.cipherSuites) {
    const suite = cipherSuiteById(id);
    if (!suite || !hello.cipherSuites.includes(id)) continue;
    if (suite.keyExchange === 'ecdhe_psk' && !clientHasX25519) continue;
    return suite;
  }
  return undefined;
}
