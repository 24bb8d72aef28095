// Our DTLS engine against pion/dtls v2 (the library of original members), directly: both roles,
// every suite both speak, Extended Master Secret required by pion, identities and data both ways.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/api';
import { activeHandles } from '../member/harness';
import { assertNoLeaksOnceSettled, listeningPeer, LOOPBACK, OurPeer, PeerProcess, PSK } from '../dtls/interop-peers';
import { CLIENT_IDENTITY, SERVER_IDENTITY } from '../dtls/session-pair';
import { requirePionPeer } from './pion-peer';

/** pion v2.2.6 also has CCM (16-byte tag), AES-256-CCM-8, CBC and ECDHE-PSK-CBC, which we do not. */
const SUITES: Array<[string, CipherSuiteId]> = [
  ['TLS_PSK_WITH_AES_128_CCM_8', CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8],
  ['TLS_PSK_WITH_AES_128_GCM_SHA256', CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256],
];

function pionArgs(mode: 'dtls-server' | 'dtls-client', address: string, identity: string, id: CipherSuiteId): string[] {
  return [mode, mode === 'dtls-server' ? '-listen' : '-connect', address, '-psk-hex', PSK.toString('hex'), '-identity', identity, '-suite', `0x${id.toString(16)}`];
}

for (const [name, id] of SUITES) {
  test(`our client with a pion server, ${name}: Extended Master Secret, identity hint, data both ways`, async (t) => {
    const binary = requirePionPeer(t);
    if (!binary) return;
    const before = activeHandles();
    const { peer: server, port } = await listeningPeer(
      (port) => new PeerProcess(binary, pionArgs('dtls-server', `${LOOPBACK}:${port}`, SERVER_IDENTITY, id)),
      /listening on/,
      /address already in use/,
    );
    const ours = await OurPeer.open('client', [id]);
    try {
      ours.connect(port);
      await ours.established(server);
      assert.deepEqual(ours.session!.info, { peerIdentity: SERVER_IDENTITY, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
      await server.waitFor(/established, identity/, 'pion established');
      assert.match(server.output, new RegExp(`established, identity "${CLIENT_IDENTITY.replace(/\./g, '\\.')}"`));
      await ours.received('from pion');
      ours.session!.send(Buffer.from('from meshboi'));
      await server.waitFor(/pion got: from meshboi/, 'our data');
      assert.ok(server.isRunning, `pion exited:\n${server.output}`);
    } finally {
      await server.stop();
      await ours.close();
    }
    await assertNoLeaksOnceSettled(before);
  });

  test(`our server with a pion client, ${name}: cookie exchange, Extended Master Secret, data both ways`, async (t) => {
    const binary = requirePionPeer(t);
    if (!binary) return;
    const before = activeHandles();
    const ours = await OurPeer.open('server', [id]);
    ours.serve();
    const client = new PeerProcess(binary, pionArgs('dtls-client', `${LOOPBACK}:${ours.port}`, CLIENT_IDENTITY, id));
    try {
      await ours.established(client);
      assert.deepEqual(ours.session!.info, { peerIdentity: CLIENT_IDENTITY, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
      await client.waitFor(new RegExp(`established, identity "${SERVER_IDENTITY.replace(/\./g, '\\.')}"`), 'pion established with our hint');
      await ours.received('from pion');
      ours.session!.send(Buffer.from('from meshboi'));
      await client.waitFor(/pion got: from meshboi/, 'our data');
      assert.ok(client.isRunning, `pion exited:\n${client.output}`);
    } finally {
      await client.stop();
      await ours.close();
    }
    await assertNoLeaksOnceSettled(before);
  });
}
