// Flight 6 (server): read the client's flight 5 (ClientKeyExchange, then Finished in epoch 1) and
// answer with ChangeCipherSpec and our Finished. The client's side of it: checking that Finished.
import { AlertDescription } from '../alert';
import { X25519Error, x25519SharedSecret } from '../cipher/x25519';
import type { KeyBlock } from '../prf';
import { decodeClientKeyExchange } from '../handshake/client-key-exchange';
import { decodeFinished, encodeFinished } from '../handshake/finished';
import type { HandshakeMessage } from '../handshake/fragmentation';
import { HandshakeType } from '../handshake/header';
import { handshakeFailure, type HandshakeContext, type HandshakeFailure } from './context';
import type { Flight } from './flight';

/** Learns the client's identity (its VPN IP) and derives the keys both directions will use. */
export function acceptClientKeyExchange(context: HandshakeContext, message: HandshakeMessage): KeyBlock | HandshakeFailure {
  const decoded = decodeClientKeyExchange(message.body, context.suite!.keyExchange);
  if (!decoded.ok) return handshakeFailure(AlertDescription.decode_error, `the client's ClientKeyExchange is malformed: ${decoded.error.message}`);
  let sharedSecret: Buffer | null = null;
  if (decoded.value.publicKey) {
    const shared = x25519SharedSecret(context.keyPair!.privateKey, decoded.value.publicKey);
    if (shared instanceof X25519Error) return handshakeFailure(AlertDescription.illegal_parameter, shared.message);
    sharedSecret = shared;
  }
  context.peerIdentity = decoded.value.identity.toString('utf8');
  context.incoming(message);
  return context.deriveKeys(sharedSecret);
}

export function flight6(context: HandshakeContext, clientFinished: HandshakeMessage): Flight | HandshakeFailure {
  const failure = checkPeerFinished(context, clientFinished);
  if (failure) return failure;
  const finished = context.outgoing(HandshakeType.finished, encodeFinished({ verifyData: context.verifyData('server') }), 1);
  return { number: 6, items: [{ kind: 'change_cipher_spec', epoch: 0 }, finished], last: true };
}

/** Both roles: the peer's Finished must carry the verify_data of the transcript we saw. */
export function checkPeerFinished(context: HandshakeContext, message: HandshakeMessage): HandshakeFailure | null {
  const decoded = decodeFinished(message.body);
  if (!decoded.ok) return handshakeFailure(AlertDescription.decode_error, `the peer's Finished is malformed: ${decoded.error.message}`);
  if (!context.peerFinishedMatches(decoded.value.verifyData)) {
    return handshakeFailure(
      AlertDescription.decrypt_error,
      "the peer's Finished did not verify: we saw different handshake messages (altered in transit?)",
    );
  }
  context.incoming(message);
  return null;
}
