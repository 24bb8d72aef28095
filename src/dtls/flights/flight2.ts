// Flight 2 (server): HelloVerifyRequest, sent statelessly by the CookieGate; no session exists yet,
// so it is one datagram built from the ClientHello's numbers and never retransmitted.
import { encodeHandshakeFragment, HandshakeType } from '../handshake/header';
import { encodeHelloVerifyRequest } from '../handshake/hello-verify-request';
import { ContentType, encodePlaintextRecord, ProtocolVersion } from '../record/header';

/**
 * RFC 6347 4.2.1: the reply reuses the ClientHello's record sequence number and message_seq, so a
 * stateless server never repeats a number the client has already seen from it. Version 0xFEFD as
 * pion writes it (the RFC suggests 0xFEFF; OpenSSL, GnuTLS and pion clients accept either).
 */
export function flight2(cookie: Buffer, clientHello: { recordSequence: number; messageSeq: number }): Buffer {
  const body = encodeHelloVerifyRequest({ serverVersion: ProtocolVersion.dtls12, cookie });
  const fragment = encodeHandshakeFragment({
    msgType: HandshakeType.hello_verify_request,
    length: body.length,
    messageSeq: clientHello.messageSeq,
    fragmentOffset: 0,
    body,
  });
  return encodePlaintextRecord(
    { contentType: ContentType.handshake, version: ProtocolVersion.dtls12, epoch: 0, sequenceNumber: clientHello.recordSequence },
    fragment,
  );
}
