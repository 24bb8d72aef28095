// Flight 5 (client): read the server's flight 4 (ServerHello, ServerKeyExchange, ServerHelloDone),
// then answer with ClientKeyExchange, ChangeCipherSpec and our Finished in epoch 1.
import { AlertDescription } from '../alert';
import { cipherSuiteById } from '../cipher/suites';
import { generateX25519KeyPair, X25519_NAMED_GROUP, X25519Error, x25519SharedSecret } from '../cipher/x25519';
import type { KeyBlock } from '../prf';
import { COMPRESSION_NULL } from '../handshake/client-hello';
import { encodeClientKeyExchange } from '../handshake/client-key-exchange';
import { encodeFinished } from '../handshake/finished';
import type { HandshakeMessage } from '../handshake/fragmentation';
import { HandshakeType } from '../handshake/header';
import { decodeServerHello } from '../handshake/server-hello';
import { decodeServerHelloDone } from '../handshake/server-hello-done';
import { decodeServerKeyExchange } from '../handshake/server-key-exchange';
import { ProtocolVersion } from '../record/header';
import { handshakeFailure, type HandshakeContext, type HandshakeFailure } from './context';
import type { Flight } from './flight';
import { carriesMeshboiMarker, checkHelloExtensions } from './hello-extensions';

export function acceptServerHello(context: HandshakeContext, message: HandshakeMessage): HandshakeFailure | null {
  const decoded = decodeServerHello(message.body);
  if (!decoded.ok) return handshakeFailure(AlertDescription.decode_error, `the server's ServerHello is malformed: ${decoded.error.message}`);
  const hello = decoded.value;
  if (hello.serverVersion !== ProtocolVersion.dtls12) {
    return handshakeFailure(AlertDescription.protocol_version, `the server chose version 0x${hello.serverVersion.toString(16)}; we speak only DTLS 1.2`);
  }
  const suite = (context.cipherSuites as readonly number[]).includes(hello.cipherSuite) ? cipherSuiteById(hello.cipherSuite) : undefined;
  if (!suite) {
    return handshakeFailure(AlertDescription.illegal_parameter, `the server chose cipher suite 0x${hello.cipherSuite.toString(16)}, which we did not offer`);
  }
  if (hello.compressionMethod !== COMPRESSION_NULL) {
    return handshakeFailure(AlertDescription.illegal_parameter, `the server chose compression ${hello.compressionMethod}, which we did not offer`);
  }
  const extensionFailure = checkHelloExtensions(hello.extensions, 'server');
  if (extensionFailure) return extensionFailure;
  context.peerIsMeshboi = carriesMeshboiMarker(hello.extensions);
  context.suite = suite;
  context.serverRandom = hello.random;
  context.incoming(message);
  return null;
}

export function acceptServerKeyExchange(context: HandshakeContext, message: HandshakeMessage): HandshakeFailure | null {
  const decoded = decodeServerKeyExchange(message.body, context.suite!.keyExchange);
  if (!decoded.ok) return handshakeFailure(AlertDescription.decode_error, `the server's ServerKeyExchange is malformed: ${decoded.error.message}`);
  const { identityHint, ecdh } = decoded.value;
  if (ecdh && ecdh.namedCurve !== X25519_NAMED_GROUP) {
    return handshakeFailure(AlertDescription.illegal_parameter, `the server chose curve ${ecdh.namedCurve}; we offered only X25519 (29)`);
  }
  context.peerIdentity = identityHint.toString('utf8');
  context.peerPublicKey = ecdh?.publicKey ?? null;
  context.incoming(message);
  return null;
}

export function flight5(context: HandshakeContext, serverHelloDone: HandshakeMessage): { flight: Flight; keys: KeyBlock } | HandshakeFailure {
  const done = decodeServerHelloDone(serverHelloDone.body);
  if (!done.ok) return handshakeFailure(AlertDescription.decode_error, `the server's ServerHelloDone is malformed: ${done.error.message}`);
  let sharedSecret: Buffer | null = null;
  if (context.suite!.keyExchange === 'ecdhe_psk') {
    if (!context.peerPublicKey) {
      return handshakeFailure(AlertDescription.unexpected_message, 'the server chose ECDHE_PSK but sent no ServerKeyExchange with its X25519 key');
    }
    context.keyPair = generateX25519KeyPair();
    const shared = x25519SharedSecret(context.keyPair.privateKey, context.peerPublicKey);
    if (shared instanceof X25519Error) return handshakeFailure(AlertDescription.illegal_parameter, shared.message);
    sharedSecret = shared;
  }
  context.incoming(serverHelloDone);
  const keyExchange = context.outgoing(
    HandshakeType.client_key_exchange,
    encodeClientKeyExchange({ identity: Buffer.from(context.identity, 'utf8'), publicKey: context.keyPair?.publicKey ?? null }),
  );
  const keys = context.deriveKeys(sharedSecret);
  const finished = context.outgoing(HandshakeType.finished, encodeFinished({ verifyData: context.verifyData('client') }), 1);
  return { flight: { number: 5, items: [keyExchange, { kind: 'change_cipher_spec', epoch: 0 }, finished], last: false }, keys };
}
