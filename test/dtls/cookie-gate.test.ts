// The stateless cookie exchange: a HelloVerifyRequest for a new ClientHello, acceptance only for
// the same client at the same address returning the cookie, rotation, and clear drop reasons.
import { strict as assert } from 'node:assert';
import { mock, test } from 'node:test';
import { CookieGate, looksLikeClientHello } from '../../src/dtls/index';
import { decodeClientHello, encodeClientHello } from '../../src/dtls/handshake/client-hello';
import { decodeHandshakeFragments, encodeHandshakeFragment, HandshakeType } from '../../src/dtls/handshake/header';
import { decodeHelloVerifyRequest } from '../../src/dtls/handshake/hello-verify-request';
import { ContentType, encodePlaintextRecord, splitRecords } from '../../src/dtls/record/header';

const REMOTE = '10.0.0.1:5000';

function helloDatagram(cookie: Buffer, options: { recordSequence?: number; messageSeq?: number; random?: Buffer } = {}): Buffer {
  const body = encodeClientHello({
    clientVersion: 0xfefd,
    random: options.random ?? Buffer.alloc(32, 1),
    sessionId: Buffer.alloc(0),
    cookie,
    cipherSuites: [0xc0a8],
    compressionMethods: [0],
    extensions: [{ type: 23, data: Buffer.alloc(0) }],
  });
  const fragment = encodeHandshakeFragment({ msgType: HandshakeType.client_hello, length: body.length, messageSeq: options.messageSeq ?? 0, fragmentOffset: 0, body });
  return encodePlaintextRecord({ contentType: ContentType.handshake, version: 0xfefd, epoch: 0, sequenceNumber: options.recordSequence ?? 0 }, fragment);
}

function cookieFrom(reply: Buffer): Buffer {
  const [record] = splitRecords(reply).records;
  const fragments = decodeHandshakeFragments(record!.fragment);
  assert.ok(fragments.ok);
  assert.equal(fragments.value[0]!.msgType, HandshakeType.hello_verify_request);
  const request = decodeHelloVerifyRequest(fragments.value[0]!.body);
  assert.ok(request.ok);
  return request.value.cookie;
}

function mustReply(gate: CookieGate, datagram: Buffer, remote = REMOTE): Buffer {
  const verdict = gate.check(datagram, remote);
  assert.equal(verdict.action, 'reply');
  return (verdict as { datagram: Buffer }).datagram;
}

test('a first ClientHello gets a HelloVerifyRequest echoing its record sequence and message_seq', () => {
  const gate = new CookieGate();
  const reply = mustReply(gate, helloDatagram(Buffer.alloc(0), { recordSequence: 7, messageSeq: 0 }));
  const [record] = splitRecords(reply).records;
  assert.equal(record!.header.sequenceNumber, 7);
  assert.equal(record!.header.epoch, 0);
  const fragments = decodeHandshakeFragments(record!.fragment);
  assert.ok(fragments.ok);
  assert.equal(fragments.value[0]!.messageSeq, 0);
  assert.equal(cookieFrom(reply).length, 32);
});

test('the cookie is accepted from the same address with the same hello, and only then', () => {
  const gate = new CookieGate();
  const cookie = cookieFrom(mustReply(gate, helloDatagram(Buffer.alloc(0))));
  assert.deepEqual(gate.check(helloDatagram(cookie, { recordSequence: 1, messageSeq: 1 }), REMOTE), { action: 'accept' });
  assert.equal(gate.check(helloDatagram(cookie), '10.0.0.9:5000').action, 'reply', 'another address');
  assert.equal(gate.check(helloDatagram(cookie, { random: Buffer.alloc(32, 2) }), REMOTE).action, 'reply', 'another random');
  const forged = Buffer.from(cookie);
  forged[0]! ^= 1;
  assert.equal(gate.check(helloDatagram(forged), REMOTE).action, 'reply');
  assert.equal(new CookieGate().check(helloDatagram(cookie), REMOTE).action, 'reply', 'another secret');
});

test('after one rotation a cookie still works; after two it earns a fresh HelloVerifyRequest', () => {
  const gate = new CookieGate();
  const cookie = cookieFrom(mustReply(gate, helloDatagram(Buffer.alloc(0))));
  gate.rotate();
  assert.equal(gate.check(helloDatagram(cookie), REMOTE).action, 'accept');
  gate.rotate();
  assert.equal(gate.check(helloDatagram(cookie), REMOTE).action, 'reply');
});

test('a given secret makes cookies reproducible across gates', () => {
  const secret = Buffer.alloc(32, 0x5a);
  const cookie = cookieFrom(mustReply(new CookieGate(secret), helloDatagram(Buffer.alloc(0))));
  assert.equal(new CookieGate(secret).check(helloDatagram(cookie), REMOTE).action, 'accept');
});

test('anything but a whole ClientHello in a handshake record is dropped with a reason', () => {
  const gate = new CookieGate();
  const hello = helloDatagram(Buffer.alloc(0));
  const fragmented = Buffer.from(hello);
  fragmented.writeUIntBE(10, 13 + 9, 3);
  const appData = Buffer.from(hello);
  appData[0] = ContentType.applicationData;
  const serverHello = Buffer.from(hello);
  serverHello[13] = HandshakeType.server_hello;
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from('hello'), /not a DTLS record/],
    [appData, /content type 23 in epoch 0 cannot start a session/],
    [serverHello, /not a ClientHello/],
    [fragmented, /malformed handshake record|fragmented ClientHello/],
    [hello.subarray(0, 40), /not a DTLS record/],
  ];
  for (const [datagram, reason] of cases) {
    const verdict = gate.check(datagram, REMOTE);
    assert.equal(verdict.action, 'drop');
    assert.match((verdict as { reason: string }).reason, reason);
  }
  const badBody = Buffer.from(hello);
  badBody[13 + 12 + 34] = 40;
  const verdict = gate.check(badBody, REMOTE);
  assert.equal(verdict.action, 'drop');
  assert.match((verdict as { reason: string }).reason, /malformed ClientHello/);
});

test('looksLikeClientHello spots a ClientHello datagram and nothing else', () => {
  const hello = helloDatagram(Buffer.alloc(0));
  assert.equal(looksLikeClientHello(hello), true);
  assert.ok(decodeClientHello(hello.subarray(25)).ok);
  assert.equal(looksLikeClientHello(Buffer.from('hello')), false);
  assert.equal(looksLikeClientHello(mustReply(new CookieGate(), hello)), false);
  const epochOne = Buffer.from(hello);
  epochOne[4] = 1;
  assert.equal(looksLikeClientHello(epochOne), false);
});

test('the secret rotates by itself each minute; a cookie outlives one rotation, not two', (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const gate = new CookieGate();
  const cookie = cookieFrom(mustReply(gate, helloDatagram(Buffer.alloc(0))));
  mock.timers.tick(60_000);
  assert.equal(gate.check(helloDatagram(cookie), REMOTE).action, 'accept', 'issued under the previous secret');
  mock.timers.tick(60_000);
  assert.equal(gate.check(helloDatagram(cookie), REMOTE).action, 'reply');
  const fresh = cookieFrom(mustReply(gate, helloDatagram(Buffer.alloc(0))));
  mock.timers.tick(180_000);
  assert.equal(gate.check(helloDatagram(fresh), REMOTE).action, 'reply', 'a quiet spell does not keep an old secret alive');
});
