// Interop with GnuTLS: `gnutls-serv --udp` (echo mode) and `gnutls-cli --udp` with a PSK, every suite
// both implement, our side in each role, data both ways, Extended Master Secret checked.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/index';
import { eventually } from '../member/harness';
import { listeningPeer, LOOPBACK, PeerProcess, PSK, requireBinary, withOurClient, withOurServer, type ListeningServer } from './interop-peers';
import { CLIENT_IDENTITY, SERVER_IDENTITY } from './session-pair';

const BASE = 'NONE:+VERS-DTLS1.2:+AEAD:+COMP-NULL:+SIGN-ALL:+CURVE-ALL';
const SUITES: Array<[string, string, CipherSuiteId]> = [
  ['AES-128-CCM-8', `${BASE}:+AES-128-CCM-8:+PSK`, CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8],
  ['AES-128-GCM', `${BASE}:+AES-128-GCM:+PSK`, CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256],
  ['CHACHA20-POLY1305', `${BASE}:+CHACHA20-POLY1305:+PSK`, CipherSuiteId.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256],
  ['ECDHE-PSK CHACHA20-POLY1305', `${BASE}:+CHACHA20-POLY1305:+ECDHE-PSK`, CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256],
];

/** gnutls-serv reads "identity:hexkey" lines. */
function pskFile(): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'meshboi-gnutls-'));
  const path = join(dir, 'psk.txt');
  writeFileSync(path, `${CLIENT_IDENTITY}:${PSK.toString('hex')}\n`, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function startServer(priority: string): Promise<ListeningServer> {
  const file = pskFile();
  const { peer, port } = await listeningPeer(
    (port) => new PeerProcess('gnutls-serv', ['--udp', '--echo', '-p', String(port), '--pskpasswd', file.path, '--pskhint', SERVER_IDENTITY, '--priority', priority]),
    // It binds IPv4, then IPv6, reporting each; only IPv4 matters to a client on 127.0.0.1.
    /listening on IPv6 :: port \d+\.\.\.\S/,
    /listening on IPv4 \S+ port \d+\.\.\.bind\(\) failed/,
  );
  return { peer, port, remove: file.remove };
}

function startClient(port: number, priority: string): PeerProcess {
  return new PeerProcess('gnutls-cli', ['--udp', '-p', String(port), LOOPBACK, '--pskusername', CLIENT_IDENTITY, '--pskkey', PSK.toString('hex'), '--priority', priority]);
}

for (const [name, priority, id] of SUITES) {
  test(`our client with gnutls-serv --udp, ${name}: handshake with Extended Master Secret, data echoed back`, async (t) => {
    if (!requireBinary(t, 'gnutls-serv', ['--version'])) return;
    await withOurClient([id], () => startServer(priority), async (ours, server) => {
      await ours.established(server);
      // Our engine finishes only with EMS (it refuses a ServerHello without it, as the test below shows).
      assert.deepEqual(ours.session!.info, { peerIdentity: SERVER_IDENTITY, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
      ours.session!.send(Buffer.from('from meshboi'));
      await server.waitFor(/Processing \d+ bytes command: from meshboi/, 'our data');
      await ours.received('from meshboi');
      ours.session!.close();
    });
  });

  test(`our server with gnutls-cli --udp, ${name}: cookie exchange, Extended Master Secret, data both ways`, async (t) => {
    if (!requireBinary(t, 'gnutls-cli', ['--version'])) return;
    await withOurServer([id], (port) => startClient(port, priority), async (ours, client) => {
      await ours.established(client);
      assert.deepEqual(ours.session!.info, { peerIdentity: CLIENT_IDENTITY, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
      await eventually('gnutls-cli reports its handshake', () => /Handshake was completed/.test(client.output) || !client.isRunning);
      if (client.exitSignal === 'SIGSEGV' && id === CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256) {
        // gnutls-cli 3.7 crashes printing an ECDHE-PSK session, against gnutls-serv too, after its
        // Finished (which our server verified above). Data in this suite is shown with gnutls-serv.
        t.diagnostic('gnutls-cli crashed (SIGSEGV) after the handshake while printing its ECDHE-PSK session info');
        return;
      }
      await client.waitFor(/Handshake was completed/, 'handshake');
      assert.match(client.output, /Options: extended master secret/);
      assert.match(client.output, new RegExp(`PSK hint '${SERVER_IDENTITY.replace(/\./g, '\\.')}'`));
      client.write('from gnutls\n');
      await ours.received('from gnutls');
      ours.session!.send(Buffer.from('from meshboi\n'));
      await client.waitFor(/from meshboi/, 'our data');
    });
  });
}

const NO_EMS = `${BASE}:+AES-128-CCM-8:+PSK:%NO_SESSION_HASH`;

test('a gnutls server without Extended Master Secret is refused by our client with a clear error', async (t) => {
  if (!requireBinary(t, 'gnutls-serv', ['--version'])) return;
  await withOurClient([CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8], () => startServer(NO_EMS), async (ours, server) => {
    await assert.rejects(ours.established(server), /did not agree to Extended Master Secret \(RFC 7627\), which we require/);
  });
});

test('a gnutls client without Extended Master Secret is refused by our server with a clear error', async (t) => {
  if (!requireBinary(t, 'gnutls-cli', ['--version'])) return;
  await withOurServer([CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8], (port) => startClient(port, NO_EMS), async (ours, client) => {
    await assert.rejects(ours.established(client), /does not offer Extended Master Secret \(RFC 7627\), which we require/);
    assert.equal(ours.events.closes[0]!.kind, 'alert');
  });
});
