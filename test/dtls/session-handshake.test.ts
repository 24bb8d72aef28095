// DtlsSession end to end over the in-memory network: every suite, suite choice, identities, the
// meshboi marker, close_notify and abort, and what a server with no cookie gate does.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/api';
import { DtlsSession } from '../../src/dtls/index';
import { ExtensionType } from '../../src/dtls/handshake/extensions';
import { decodeHandshakeFragments, HandshakeType } from '../../src/dtls/handshake/header';
import { decodeServerHello } from '../../src/dtls/handshake/server-hello';
import { splitRecords } from '../../src/dtls/record/header';
import { activeHandles, assertNoLeaks, eventually } from '../member/harness';
import { capturedDtlsDatagrams } from '../vectors/original-session';
import { CLIENT_IDENTITY, EventRecorder, SERVER_IDENTITY, SessionPair } from './session-pair';

async function withPair(options: ConstructorParameters<typeof SessionPair>[0], body: (pair: SessionPair) => Promise<void>): Promise<void> {
  const before = activeHandles();
  const pair = new SessionPair(options);
  try {
    await body(pair);
  } finally {
    await pair.close();
  }
  await assertNoLeaks(before);
}

for (const [name, id] of Object.entries(CipherSuiteId)) {
  test(`${name}: both sides finish, learn each other's identity and meshboi marker, and carry data both ways`, async () => {
    await withPair({ clientSuites: [id], serverSuites: [id] }, async (pair) => {
      pair.client.start();
      await eventually('both sides established', () => pair.established);
      for (const [events, peer] of [
        [pair.clientEvents, SERVER_IDENTITY],
        [pair.serverEvents, CLIENT_IDENTITY],
      ] as const) {
        assert.deepEqual(events.info, { peerIdentity: peer, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: true });
      }
      assert.deepEqual(pair.client.info, pair.clientEvents.info);
      assert.equal(pair.client.send(Buffer.from('from client')), true);
      assert.equal(pair.server!.send(Buffer.from('from server')), true);
      await eventually('data both ways', () => pair.serverEvents.data.length === 1 && pair.clientEvents.data.length === 1);
      assert.equal(pair.serverEvents.data[0]!.toString(), 'from client');
      assert.equal(pair.clientEvents.data[0]!.toString(), 'from server');
      assert.deepEqual([pair.clientEvents.closes, pair.serverEvents.closes], [[], []]);
    });
  });
}

test('between two meshboi members the default preference picks ECDHE-PSK with AES-128-GCM', async () => {
  await withPair({}, async (pair) => {
    pair.client.start();
    await eventually('established', () => pair.established);
    assert.equal(pair.client.info!.cipherSuite, CipherSuiteId.TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256);
  });
});

test('a member of ours without ECDHE-PSK with AES-128-GCM (an older one) gets ECDHE-PSK with ChaCha20-Poly1305', async () => {
  const older = [CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, CipherSuiteId.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256, CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8];
  for (const sides of [{ clientSuites: older }, { serverSuites: older }]) {
    await withPair(sides, async (pair) => {
      pair.client.start();
      await eventually('established', () => pair.established);
      assert.equal(pair.client.info!.cipherSuite, CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256);
    });
  }
});

test('a client offering only AES-128-CCM-8, as an original member does, gets AES-128-CCM-8 from a default server', async () => {
  await withPair({ clientSuites: [CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8] }, async (pair) => {
    pair.client.start();
    await eventually('established', () => pair.established);
    assert.equal(pair.server!.info!.cipherSuite, CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8);
  });
});

test('with no suite in common both sides fail with a message naming the problem', async () => {
  await withPair(
    { clientSuites: [CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8], serverSuites: [CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256] },
    async (pair) => {
      pair.client.start();
      await eventually('both closed', () => pair.client.state === 'closed' && pair.server?.state === 'closed');
      const serverClose = pair.serverEvents.closes[0]!;
      assert.equal(serverClose.kind, 'alert');
      assert.match((serverClose as { message: string }).message, /no cipher suite in common: the client offers 0xc0a8; we accept TLS_PSK_WITH_AES_128_GCM_SHA256/);
      assert.match((pair.clientEvents.closes[0] as { message: string }).message, /refused our parameters \(handshake_failure \(40\)\)/);
    },
  );
});

test('close() sends close_notify: the peer reports it and both end closed without further events', async () => {
  await withPair({}, async (pair) => {
    pair.client.start();
    await eventually('established', () => pair.established);
    pair.client.close();
    assert.equal(pair.client.state, 'closed');
    await eventually('server closed', () => pair.server!.state === 'closed');
    assert.deepEqual(pair.serverEvents.closes, [{ kind: 'close_notify' }]);
    assert.deepEqual(pair.clientEvents.closes, [], 'a local close() raises no onClose');
    assert.equal(pair.client.send(Buffer.from('late')), false);
    pair.client.start();
    assert.equal(pair.client.state, 'closed', 'closed is terminal');
  });
});

test('abort() closes without sending anything', async () => {
  await withPair({}, async (pair) => {
    pair.client.start();
    await eventually('established', () => pair.established);
    const sentBefore = pair.client.counters.recordsOut;
    pair.client.abort();
    assert.equal(pair.client.state, 'closed');
    assert.equal(pair.client.counters.recordsOut, sentBefore);
    assert.equal(pair.server!.state, 'established');
  });
});

test('a session reports handshaking until the peer Finished verifies, and refuses to send until then', async () => {
  await withPair({}, async (pair) => {
    assert.equal(pair.client.state, 'handshaking');
    assert.equal(pair.client.info, null);
    assert.equal(pair.client.send(Buffer.from('too early')), false);
    pair.client.start();
    await eventually('established', () => pair.established);
  });
});

test('a server fed an original client\'s first ClientHello answers without a cookie and does not echo the meshboi extension', () => {
  const firstHello = capturedDtlsDatagrams().find((datagram) => datagram.bytes[0] === 22 && datagram.bytes[13] === HandshakeType.client_hello)!;
  const sent: Buffer[] = [];
  const events = new EventRecorder();
  const server = new DtlsSession({ role: 'server', psk: Buffer.from('testpassword'), identity: SERVER_IDENTITY, send: (d) => sent.push(d) }, events);
  try {
    server.handleDatagram(Buffer.from(firstHello.bytes));
    assert.equal(sent.length, 1, 'flight 4 fits one datagram');
    const messages = splitRecords(sent[0]!).records.flatMap((record) => {
      const fragments = decodeHandshakeFragments(record.fragment);
      assert.ok(fragments.ok);
      return fragments.value;
    });
    assert.deepEqual(
      messages.map((m) => [m.msgType, m.messageSeq]),
      [
        [HandshakeType.server_hello, 0],
        [HandshakeType.server_key_exchange, 1],
        [HandshakeType.server_hello_done, 2],
      ],
    );
    const hello = decodeServerHello(messages[0]!.body);
    assert.ok(hello.ok);
    assert.equal(hello.value.cipherSuite, CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8);
    assert.deepEqual(
      hello.value.extensions.map((e) => e.type),
      [ExtensionType.renegotiation_info, ExtensionType.extended_master_secret],
    );
    assert.equal(messages[1]!.body.subarray(2).toString(), SERVER_IDENTITY, 'the identity hint is our VPN IP');
  } finally {
    server.abort();
  }
});

test('a client fed datagrams before start() drops them quietly and still handshakes once started', async () => {
  await withPair({}, async (pair) => {
    const pionServerFlight = capturedDtlsDatagrams().find((datagram) => datagram.bytes[13] === HandshakeType.server_hello)!;
    pair.client.handleDatagram(Buffer.from('hello'));
    pair.client.handleDatagram(Buffer.from(pionServerFlight.bytes));
    assert.equal(pair.client.state, 'handshaking');
    assert.equal(pair.client.counters.recordsOut, 0, 'no alert, nothing sent before start()');
    pair.client.start();
    await eventually('established', () => pair.established);
  });
});

for (const original of ['client', 'server'] as const) {
  test(`an original-like ${original} (no meshboi extension) is known as original by both sides and never sees ours`, async () => {
    const extensionsSeenByOriginal: number[][] = [];
    const originalAddress = original === 'client' ? '10.0.0.1' : '10.0.0.2';
    await withPair(
      {
        original,
        interceptor: (d) => {
          if (d.to.address !== originalAddress) return d;
          const { records } = splitRecords(d.data);
          for (const record of records) {
            if (record.header.epoch !== 0 || record.header.contentType !== 22) continue;
            const fragments = decodeHandshakeFragments(record.fragment);
            if (!fragments.ok) continue;
            for (const fragment of fragments.value) {
              if (fragment.msgType !== HandshakeType.server_hello) continue;
              const hello = decodeServerHello(fragment.body);
              if (hello.ok) extensionsSeenByOriginal.push(hello.value.extensions.map((e) => e.type));
            }
          }
          return d;
        },
      },
      async (pair) => {
        pair.client.start();
        await eventually('both sides established', () => pair.established);
        assert.equal(pair.clientEvents.info?.peerIsMeshboi, false);
        assert.equal(pair.serverEvents.info?.peerIsMeshboi, false);
      },
    );
    if (original === 'client') {
      assert.ok(extensionsSeenByOriginal.length > 0, 'the original client saw a ServerHello');
      assert.ok(extensionsSeenByOriginal.every((types) => !types.includes(ExtensionType.meshboi)), 'our server did not echo an extension it was not offered');
    }
  });
}
