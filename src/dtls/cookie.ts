// The stateless cookie exchange (RFC 6347 4.2.1) in front of server sessions: a ClientHello from
// an unknown address earns a HelloVerifyRequest, and only one that returns a valid cookie earns state.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeClientHello, decodeClientHello, type ClientHello } from './handshake/client-hello';
import { flight2 } from './flights/flight2';
import { decodeHandshakeFragments, HandshakeType } from './handshake/header';
import { ContentType, splitRecords } from './record/header';

export type CookieVerdict = { action: 'accept' } | { action: 'reply'; datagram: Buffer } | { action: 'drop'; reason: string };

const COOKIE_LENGTH = 32;
const SECRET_LENGTH = 32;
/** A cookie stays valid for one to two rotation periods: long enough for a slow client to answer. */
const ROTATE_EVERY_MS = 60_000;

/**
 * Cookie = HMAC-SHA256(secret, remote address, the ClientHello's version, random, session id,
 * suites and compression methods), as RFC 6347 4.2.1 suggests: a client must echo it from the same
 * address with the same hello, and the server remembers nothing until it does. The secret rotates
 * every minute; the previous one is still accepted so a handshake in flight survives a rotation.
 */
export class CookieGate {
  private current: Buffer;
  private previous: Buffer | null = null;
  private rotatedAt = Date.now();

  constructor(secret?: Buffer) {
    this.current = secret ? Buffer.from(secret) : randomBytes(SECRET_LENGTH);
  }

  /** Starts a new secret now; the previous one keeps working until the next rotation. */
  rotate(): void {
    this.previous = this.current;
    this.current = randomBytes(SECRET_LENGTH);
    this.rotatedAt = Date.now();
  }

  check(datagram: Buffer, remote: string): CookieVerdict {
    const sinceRotation = Date.now() - this.rotatedAt;
    if (sinceRotation >= ROTATE_EVERY_MS) {
      this.rotate();
      // After a quiet spell the previous secret is older than a cookie may live.
      if (sinceRotation >= 2 * ROTATE_EVERY_MS) this.previous = null;
    }
    const { records } = splitRecords(datagram);
    const record = records[0];
    if (!record) return { action: 'drop', reason: 'not a DTLS record' };
    if (record.header.contentType !== ContentType.handshake || record.header.epoch !== 0) {
      return { action: 'drop', reason: `a record of content type ${record.header.contentType} in epoch ${record.header.epoch} cannot start a session` };
    }
    const fragments = decodeHandshakeFragments(record.fragment);
    if (!fragments.ok) return { action: 'drop', reason: `malformed handshake record: ${fragments.error.message}` };
    const first = fragments.value[0];
    if (!first || first.msgType !== HandshakeType.client_hello) return { action: 'drop', reason: 'the first handshake message is not a ClientHello' };
    if (first.fragmentOffset !== 0 || first.body.length !== first.length) {
      return { action: 'drop', reason: 'a fragmented ClientHello cannot be checked without keeping state' };
    }
    const hello = decodeClientHello(first.body);
    if (!hello.ok) return { action: 'drop', reason: `malformed ClientHello: ${hello.error.message}` };

    if (hello.value.cookie.length === COOKIE_LENGTH && this.cookieMatches(hello.value, remote)) return { action: 'accept' };
    const reply = flight2(cookieFor(this.current, hello.value, remote), {
      recordSequence: record.header.sequenceNumber,
      messageSeq: first.messageSeq,
    });
    return { action: 'reply', datagram: reply };
  }

  private cookieMatches(hello: ClientHello, remote: string): boolean {
    for (const secret of [this.current, this.previous]) {
      if (secret && timingSafeEqual(cookieFor(secret, hello, remote), hello.cookie)) return true;
    }
    return false;
  }
}

function cookieFor(secret: Buffer, hello: ClientHello, remote: string): Buffer {
  // The hello without its cookie and extensions: what the client must repeat word for word.
  const parameters = encodeClientHello({ ...hello, cookie: Buffer.alloc(0), extensions: [] });
  return createHmac('sha256', secret).update(remote).update('\0').update(parameters).digest();
}

/**
 * A cheap look at the first record: a handshake record in epoch 0 whose first message is a
 * ClientHello. Lets a caller spot a peer that restarted and is handshaking again.
 */
export function looksLikeClientHello(datagram: Buffer): boolean {
  return (
    datagram.length >= 13 + 12 &&
    datagram[0] === ContentType.handshake &&
    datagram[1] === 0xfe &&
    datagram[3] === 0 &&
    datagram[4] === 0 &&
    datagram[13] === HandshakeType.client_hello
  );
}
