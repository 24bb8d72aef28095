// The DTLS handshake header (RFC 6347 4.2.2): 12 bytes in front of every handshake message or
// fragment of one, telling where the fragment sits in the whole message.
//
//   0        1        2        3        4        5        6        7        8        9       10       11
//   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
//   |msg_type|         length           |   message_seq   |     fragment_offset      |     fragment_length      |
//   +--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+--------+
//   followed by fragment_length bytes of the message body
import { ByteReader, ByteWriter, HandshakeCodecError, type Decoded } from './bytes';

export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

export const HANDSHAKE_HEADER_LENGTH = 12;

export interface HandshakeFragment {
  msgType: number;
  /** Length of the whole message body. */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  /** The fragment's bytes: body[fragmentOffset, fragmentOffset + body.length). */
  body: Buffer;
}

/**
 * Reads every handshake fragment in one handshake record's plaintext; a record may carry several
 * (pion and OpenSSL pack a whole flight this way).
 */
export function decodeHandshakeFragments(bytes: Uint8Array): Decoded<HandshakeFragment[]> {
  const fragments: HandshakeFragment[] = [];
  const reader = new ByteReader(bytes, 'handshake fragment');
  while (reader.remaining > 0) {
    if (reader.remaining < HANDSHAKE_HEADER_LENGTH) {
      return { ok: false, error: new HandshakeCodecError('truncated', `handshake header needs 12 bytes, ${reader.remaining} left`) };
    }
    const msgType = reader.u8();
    const length = reader.u24();
    const messageSeq = reader.u16();
    const fragmentOffset = reader.u24();
    const fragmentLength = reader.u24();
    if (fragmentOffset + fragmentLength > length) {
      return {
        ok: false,
        error: new HandshakeCodecError('bad_value', `handshake fragment [${fragmentOffset}, +${fragmentLength}) lies outside its ${length}-byte message`),
      };
    }
    if (fragmentLength > reader.remaining) {
      return { ok: false, error: new HandshakeCodecError('truncated', `handshake fragment claims ${fragmentLength} bytes, ${reader.remaining} present`) };
    }
    fragments.push({ msgType, length, messageSeq, fragmentOffset, body: reader.bytesOf(fragmentLength) });
  }
  return { ok: true, value: fragments };
}

export function encodeHandshakeFragment(fragment: HandshakeFragment): Buffer {
  return new ByteWriter()
    .u8(fragment.msgType)
    .u24(fragment.length)
    .u16(fragment.messageSeq)
    .u24(fragment.fragmentOffset)
    .u24(fragment.body.length)
    .bytes(fragment.body)
    .finish();
}

/** A whole message as the transcript hashes it: one unfragmented header plus the body. */
export function encodeWholeMessage(msgType: number, messageSeq: number, body: Buffer): Buffer {
  return encodeHandshakeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: 0, body });
}
