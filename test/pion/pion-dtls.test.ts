// Our DTLS engine against pion/dtls v2 (the library of original members), directly: both roles,
// every suite both speak, Extended Master Secret required by pion, identities and data both ways.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/index';
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
      await exchange(ours, server, SERVER_IDENTITY, CLIENT_IDENTITY, id);
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
      await exchange(ours, client, CLIENT_IDENTITY, SERVER_IDENTITY, id);
    } finally {
      await client.stop();
      await ours.close();
    }
    await assertNoLeaksOnceSettled(before);
  });
}

/** Both ends established with each other's identity, then data both ways; pion still running. */
async function exchange(ours: OurPeer, pion: PeerProcess, pionIdentity: string, ourIdentity: string, id: CipherSuiteId): Promise<void> {
  await ours.established(pion);
  assert.deepEqual(ours.session!.info, { peerIdentity: pionIdentity, cipherSuite: id, extendedMasterSecret: true, peerIsMeshboi: false });
  await pion.waitFor(new RegExp(`established, identity "${ourIdentity.replace(/\./g, '\\.')}"`), 'pion established with our identity');
  await ours.received('from pion');
  ours.session!.send(Buffer.from('from meshboi'));
  await pion.waitFor(/pion got: from meshboi/, 'our data');
  assert.ok(pion.isRunning, `pion exited:\n${pion.output}`);
}
