// Flight 3 (client): the server answered flight 1 with a HelloVerifyRequest; send the same
// ClientHello again carrying its cookie. The transcript starts over here (RFC 6347 4.2.6).
import { decodeHelloVerifyRequest } from '../handshake/hello-verify-request';
import type { HandshakeMessage } from '../handshake/fragmentation';
import { AlertDescription } from '../alert';
import { handshakeFailure, type HandshakeContext, type HandshakeFailure } from './context';
import type { Flight } from './flight';
import { clientHello } from './flight1';

export function flight3(context: HandshakeContext, message: HandshakeMessage): Flight | HandshakeFailure {
  const request = decodeHelloVerifyRequest(message.body);
  if (!request.ok) return handshakeFailure(AlertDescription.decode_error, `the server's HelloVerifyRequest is malformed: ${request.error.message}`);
  context.restartTranscript();
  return { number: 3, items: [clientHello(context, request.value.cookie)], last: false };
}
