// Every plaintext handshake message of the captured original (pion) session, decoded with our
// codecs and encoded again to the identical bytes, with the fields an original peer relies on.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { decodeClientHello, encodeClientHello, type ClientHello } from '../../src/dtls/handshake/client-hello';
import { decodeClientKeyExchange, encodeClientKeyExchange } from '../../src/dtls/handshake/client-key-exchange';
import { decodeSignatureAlgorithms, ExtensionType, findExtension } from '../../src/dtls/handshake/extensions';
import { decodeHandshakeFragments, encodeHandshakeFragment, HandshakeType, type HandshakeFragment } from '../../src/dtls/handshake/header';
import { decodeHelloVerifyRequest, encodeHelloVerifyRequest } from '../../src/dtls/handshake/hello-verify-request';
import { decodeServerHello, encodeServerHello } from '../../src/dtls/handshake/server-hello';
import { decodeServerHelloDone, encodeServerHelloDone } from '../../src/dtls/handshake/server-hello-done';
import { decodeServerKeyExchange, encodeServerKeyExchange } from '../../src/dtls/handshake/server-key-exchange';
import { ContentType, splitRecords } from '../../src/dtls/record/header';
import { capturedDtlsDatagrams } from '../vectors/original-session';

function capturedHandshake(): HandshakeFragment[] {
  const fragments: HandshakeFragment[] = [];
  for (const { bytes } of capturedDtlsDatagrams()) {
    const { records, error } = splitRecords(bytes);
    assert.equal(error, null);
    for (const record of records) {
      if (record.header.contentType !== ContentType.handshake || record.header.epoch !== 0) continue;
      const decoded = decodeHandshakeFragments(record.fragment);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      // The header codec must give back the record's bytes too.
      assert.deepEqual(Buffer.concat(decoded.value.map(encodeHandshakeFragment)), record.fragment);
      fragments.push(...decoded.value);
    }
  }
  return fragments;
}

test('the original handshake parses with our codecs and re-encodes to identical bytes', () => {
  const fragments = capturedHandshake();
  assert.deepEqual(
    fragments.map((f) => [f.msgType, f.messageSeq]),
    [
      [HandshakeType.client_hello, 0],
      [HandshakeType.hello_verify_request, 0],
      [HandshakeType.client_hello, 1],
      [HandshakeType.server_hello, 1],
      [HandshakeType.server_key_exchange, 2],
      [HandshakeType.server_hello_done, 3],
      [HandshakeType.client_key_exchange, 2],
    ],
  );
  const [firstHello, verifyRequest, secondHello, serverHello, serverKeyExchange, serverHelloDone, clientKeyExchange] = fragments.map((f) => f.body);

  const hellos: ClientHello[] = [];
  for (const body of [firstHello!, secondHello!]) {
    const decoded = decodeClientHello(body);
    assert.ok(decoded.ok);
    assert.deepEqual(encodeClientHello(decoded.value), body);
    hellos.push(decoded.value);
  }
  const request = decodeHelloVerifyRequest(verifyRequest!);
  assert.ok(request.ok);
  assert.deepEqual(encodeHelloVerifyRequest(request.value), verifyRequest);
  assert.equal(request.value.serverVersion, 0xfefd, 'pion writes DTLS 1.2 into its HelloVerifyRequest');
  assert.equal(hellos[0]!.cookie.length, 0);
  assert.deepEqual(hellos[1]!.cookie, request.value.cookie);
  assert.deepEqual(hellos[1]!.cipherSuites, [0xc0a8]);
  assert.equal(hellos[0]!.sessionId.length, 0);
  assert.deepEqual(
    hellos.map((hello) => hello.extensions.map((e) => e.type)),
    [
      [13, 65281, 23],
      [13, 65281, 10, 11, 23],
    ],
  );
  const signatureAlgorithms = decodeSignatureAlgorithms(findExtension(hellos[0]!.extensions, ExtensionType.signature_algorithms)!.data);
  assert.ok(signatureAlgorithms.ok);
  assert.ok(signatureAlgorithms.value.includes(0x0403), 'ecdsa_secp256r1_sha256 among them');

  const hello = decodeServerHello(serverHello!);
  assert.ok(hello.ok);
  assert.deepEqual(encodeServerHello(hello.value), serverHello);
  assert.equal(hello.value.sessionId.length, 0);
  assert.equal(hello.value.cipherSuite, 0xc0a8);
  assert.deepEqual(
    hello.value.extensions.map((e) => e.type),
    [65281, 23],
  );

  const keyExchange = decodeServerKeyExchange(serverKeyExchange!, 'psk');
  assert.ok(keyExchange.ok);
  assert.deepEqual(encodeServerKeyExchange(keyExchange.value), serverKeyExchange);
  assert.equal(keyExchange.value.identityHint.toString(), '192.168.50.2', 'the server hints its VPN IP');

  assert.ok(decodeServerHelloDone(serverHelloDone!).ok);
  assert.deepEqual(encodeServerHelloDone(), serverHelloDone);

  const clientKeys = decodeClientKeyExchange(clientKeyExchange!, 'psk');
  assert.ok(clientKeys.ok);
  assert.deepEqual(encodeClientKeyExchange(clientKeys.value), clientKeyExchange);
  assert.equal(clientKeys.value.identity.toString(), '192.168.50.1', 'the client names its VPN IP');
});
