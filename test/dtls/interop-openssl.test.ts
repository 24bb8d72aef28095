// Interop with OpenSSL: `openssl s_server` and `openssl s_client -dtls1_2` with a PSK, every suite
// both implement, our side in each role, data both ways, Extended Master Secret checked on OpenSSL's.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/index';
import { eventually } from '../member/harness';
import { listeningPeer, LOOPBACK, PeerProcess, PSK, requireBinary, withOurClient, withOurServer, type ListeningServer } from './interop-peers';
import { CLIENT_IDENTITY, SERVER_IDENTITY } from './session-pair';

const SUITES: Array<[string, CipherSuiteId]> = [
  ['PSK-AES128-CCM8', CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8],
  ['PSK-AES128-GCM-SHA256', CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256],
  ['PSK-CHACHA20-POLY1305', CipherSuiteId.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256],
  ['ECDHE-PSK-CHACHA20-POLY1305', CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256],
];

/** s_server prints its session as PEM; `openssl sess_id -text` says whether EMS was used. */
function serverSessionText(output: string): string {
  const pem = /-----BEGIN SSL SESSION PARAMETERS-----[\s\S]*?-----END SSL SESSION PARAMETERS-----/.exec(output);
  assert.ok(pem, `s_server printed no session:\n${output}`);
  const decoded = spawnSync('openssl', ['sess_id', '-text', '-noout'], { input: pem[0] });
  return decoded.stdout.toString();
}

/** `openssl s_server -dtls1_2` on a free port with `options` after the PSK ones. */
function startServer(options: string[]): Promise<ListeningServer> {
  return listeningPeer(
    (port) => new PeerProcess('openssl', ['s_server', '-dtls1_2', '-accept', `${LOOPBACK}:${port}`, '-nocert', ...options]),
    /ACCEPT/,
    /Address already in use/,
  );
}

function startClient(port: number, psk: Buffer, opensslName: string): PeerProcess {
  return new PeerProcess('openssl', [
    's_client', '-dtls1_2', '-connect', `${LOOPBACK}:${port}`,
    '-psk', psk.toString('hex'), '-psk_identity', CLIENT_IDENTITY, '-cipher', opensslName,
  ]);
}

for (const [opensslName, id] of SUITES) {
  test(`our client with openssl s_server, ${opensslName}: handshake with Extended Master Secret, data both ways`, async (t) => {
    if (!requireBinary(t, 'openssl', ['version'])) return;
    const serverOptions = ['-psk', PSK.toString('hex'), '-psk_hint', SERVER_IDENTITY, '-psk_identity', CLIENT_IDENTITY, '-cipher', opensslName];
    await withOurClient([id], () => startServer(serverOptions), async (ours, server) => {
      await ours.established(server);
      assert.deepEqual(ours.session!.info, { peerIdentity: SERVER_IDENTITY, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
      ours.session!.send(Buffer.from('from meshboi\n'));
      await server.waitFor(/from meshboi/, 'our data');
      server.write('from openssl\n');
      await ours.received('from openssl');
      const session = serverSessionText(server.output);
      assert.match(session, /Extended master secret: yes/);
      assert.match(session, new RegExp(`Cipher\\s*: ${opensslName}`));
      assert.match(session, new RegExp(`PSK identity: ${CLIENT_IDENTITY.replace(/\./g, '\\.')}`));
      ours.session!.close();
      await server.waitFor(/DONE|shutting down/i, 'our close_notify');
    });
  });

  test(`our server with openssl s_client -dtls1_2, ${opensslName}: cookie exchange, Extended Master Secret, data both ways`, async (t) => {
    if (!requireBinary(t, 'openssl', ['version'])) return;
    await withOurServer([id], (port) => startClient(port, PSK, opensslName), async (ours, client) => {
      await ours.established(client);
      assert.deepEqual(ours.session!.info, { peerIdentity: CLIENT_IDENTITY, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
      // OpenSSL drops a ServerHello whose record number repeats the HelloVerifyRequest's as a replay;
      // ours continues the ClientHello's numbering, so nothing had to be sent twice.
      assert.equal(ours.session!.counters.retransmits, 0);
      await client.waitFor(/Extended master secret: yes/, 'session summary with EMS');
      assert.match(client.output, new RegExp(`PSK identity hint: ${SERVER_IDENTITY.replace(/\./g, '\\.')}`));
      client.write('from openssl\n');
      await ours.received('from openssl');
      ours.session!.send(Buffer.from('from meshboi\n'));
      await client.waitFor(/from meshboi/, 'our data');
      client.endInput();
      await eventually('close_notify from s_client', () => ours.events.closes.length > 0);
      assert.deepEqual(ours.events.closes, [{ kind: 'close_notify' }]);
      await client.waitForExit();
    });
  });
}

test('openssl s_client with another PSK: our server says the PSKs differ and OpenSSL reports our bad_record_mac', async (t) => {
  if (!requireBinary(t, 'openssl', ['version'])) return;
  const otherPsk = Buffer.from('another password');
  await withOurServer([CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8], (port) => startClient(port, otherPsk, 'PSK-AES128-CCM8'), async (ours, client) => {
    await eventually('our server gives up', () => ours.events.closes.length > 0);
    assert.deepEqual(ours.events.closes, [
      { kind: 'alert', description: 20, message: "handshake failed: the peer's Finished did not verify — the PSKs differ" },
    ]);
    await client.waitFor(/alert bad record mac/, 'the alert we sent');
  });
});

test('openssl s_server with a 256-byte MTU fragments its flight across records and our client reassembles it', async (t) => {
  if (!requireBinary(t, 'openssl', ['version'])) return;
  // OpenSSL's longest identity hint (128 bytes) makes ServerKeyExchange too big to share a 256-byte
  // datagram with the ServerHello, so OpenSSL splits it into fragments.
  const longHint = '192.168.50.2/'.padEnd(128, 'x');
  const serverOptions = ['-mtu', '256', '-psk', PSK.toString('hex'), '-psk_hint', longHint, '-cipher', 'ECDHE-PSK-CHACHA20-POLY1305'];
  await withOurClient([CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256], () => startServer(serverOptions), async (ours, server) => {
    await ours.established(server);
    assert.equal(ours.session!.info!.peerIdentity, longHint);
    // HelloVerifyRequest, ServerHello, ServerKeyExchange, ServerHelloDone, ChangeCipherSpec and
    // Finished are six messages; a seventh record means one of them came in fragments.
    assert.ok(ours.session!.counters.recordsIn >= 7, `records in: ${ours.session!.counters.recordsIn}`);
    ours.session!.send(Buffer.from('from meshboi\n'));
    await server.waitFor(/from meshboi/, 'our data');
  });
});
