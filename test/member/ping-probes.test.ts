// `meshboi ping` on the simulated mesh: probes through a peer's session answered with the path,
// over the control socket as the CLI asks; probes never reach TUN nor an original peer; clear
// refusals for an unknown peer, one not established, an original peer, and a lost reply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlClientError, requestPing } from '../../src/control/client';
import { ControlServer } from '../../src/control/server';
import { CipherSuiteId } from '../../src/dtls/index';
import { ProbeError, type Member } from '../../src/member/main';
import { FAST_TIMINGS, withMesh, type Mesh } from './mesh';

const PROBE_TIMEOUT_MS = 300;

async function refusal(promise: Promise<unknown>): Promise<ProbeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProbeError) return error;
    throw error;
  }
  throw new Error('the ping was answered');
}

/** Runs the simulation until `pending` settles (a probe needs its datagrams moved and its timer run). */
async function settled<T>(mesh: Mesh, pending: Promise<T>): Promise<PromiseSettledResult<T>> {
  let outcome: PromiseSettledResult<T> | null = null;
  void pending.then(
    (value) => (outcome = { status: 'fulfilled', value }),
    (reason: unknown) => (outcome = { status: 'rejected', reason }),
  );
  await mesh.until('the ping settles', () => outcome !== null, 2 * PROBE_TIMEOUT_MS);
  return outcome!;
}

test('a probe through the session comes back with the round trip and the direct path, and never reaches TUN', async () => {
  await withMesh(async (mesh) => {
    const timings = { probeTimeoutMs: PROBE_TIMEOUT_MS };
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.waitEstablished('bob', '192.168.50.1');
    const written = bob.device.written.length;
    const before = mesh.peerOf('bob', '192.168.50.1')!;

    const outcome = await settled(mesh, alice.member.ping('192.168.50.2'));
    assert.equal(outcome.status, 'fulfilled');
    const result = (outcome as PromiseFulfilledResult<Awaited<ReturnType<Member['ping']>>>).value;
    assert.equal(result.vpnIp, '192.168.50.2');
    assert.deepEqual(result.route, { kind: 'direct', endpoint: '192.0.2.20:' + String(bob.transport.localEndpoint().port) });
    assert.ok(result.rttMs >= 0 && result.rttMs < PROBE_TIMEOUT_MS);

    const after = mesh.peerOf('bob', '192.168.50.1')!;
    assert.equal(bob.device.written.length, written, 'a probe is not an IP packet for TUN');
    assert.equal(after.packetsIn, before.packetsIn);
    assert.deepEqual(after.drops, before.drops, 'nor a malformed one');
    assert.ok(after.dtls.recordsIn > before.dtls.recordsIn, 'it came through the DTLS session');
  });
});

test('the control socket carries a ping to the member and its refusals back, codes included', async () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-ping-'));
  try {
    await withMesh(async (mesh) => {
      const timings = { probeTimeoutMs: PROBE_TIMEOUT_MS };
      const [alice] = await Promise.all([
        mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings }),
        mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings }),
      ]);
      await mesh.waitEstablished('alice', '192.168.50.2');
      const control = await ControlServer.listen(path.join(directory, 'alice.sock'), { status: () => alice.member.status(), ping: (ip) => alice.member.ping(ip) });
      try {
        const answered = await settled(mesh, requestPing(control.path, '192.168.50.2'));
        assert.equal(answered.status, 'fulfilled');
        const unknown = await settled(mesh, requestPing(control.path, '192.168.50.99'));
        assert.equal(unknown.status, 'rejected');
        const error = (unknown as PromiseRejectedResult).reason as ControlClientError;
        assert.equal(error.refusal?.code, 'unknown_peer');
        assert.match(error.message, /refused: no peer has VPN IP 192\.168\.50\.99; `meshboi status` lists the peers/);
      } finally {
        await control.close();
      }
    });
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
});

test('unknown, not established and original peers are refused, and an original peer is never sent a probe', async () => {
  await withMesh(async (mesh) => {
    const cipherSuites = [CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8];
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', cipherSuites });
    await mesh.addMember('olivia', { vpnIp: '192.168.50.3', address: '192.0.2.30', cipherSuites, announceMeshboi: false });
    await mesh.waitEstablished('alice', '192.168.50.3');

    assert.equal((await refusal(alice.member.ping('192.168.50.9'))).code, 'unknown_peer');
    assert.equal((await refusal(alice.member.ping('not-an-ip'))).code, 'bad_address');
    const sent = mesh.peerOf('alice', '192.168.50.3')!.dtls.recordsOut;
    const original = await refusal(alice.member.ping('192.168.50.3'));
    assert.equal(original.code, 'original_peer');
    assert.match(original.message, /runs the original meshboi, which cannot answer probes; use plain `ping 192\.168\.50\.3` instead/);
    assert.equal(mesh.peerOf('alice', '192.168.50.3')!.dtls.recordsOut, sent, 'nothing was sealed for the original peer');

    // Bob was established, then nothing of his reached alice (the rolodex still lists him): she
    // holds his VPN IP while she punches again.
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', cipherSuites });
    await mesh.waitEstablished('alice', '192.168.50.2');
    mesh.network.interceptor = (datagram) => (datagram.from.address === '192.0.2.20' && datagram.to.address === '192.0.2.10' ? null : datagram);
    await mesh.until('alice gives bob up', () => mesh.peerOf('alice', '192.168.50.2') === undefined, 3 * FAST_TIMINGS.deadAfterMs);
    const silent = await refusal(alice.member.ping('192.168.50.2'));
    assert.equal(silent.code, 'not_established');
    assert.match(silent.message, /^peer 192\.168\.50\.2 is (punching|handshaking), not established/);
    mesh.network.interceptor = (datagram) => datagram;
  });
});

test('a probe whose reply is lost fails after the probe timeout and leaves no timer behind', async () => {
  await withMesh(async (mesh) => {
    const timings = { probeTimeoutMs: PROBE_TIMEOUT_MS };
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings });
    await mesh.waitEstablished('alice', '192.168.50.2');
    mesh.network.interceptor = (datagram) => (datagram.from.address === '192.0.2.20' ? null : datagram);
    const startedAt = mesh.clock.now();
    const outcome = await settled(mesh, alice.member.ping('192.168.50.2'));
    assert.equal(outcome.status, 'rejected');
    const error = (outcome as PromiseRejectedResult).reason as ProbeError;
    assert.equal(error.code, 'timeout');
    assert.match(error.message, /no reply from 192\.168\.50\.2 within 300 ms/);
    assert.equal(mesh.clock.now() - startedAt, PROBE_TIMEOUT_MS);
    mesh.network.interceptor = (datagram) => datagram;
  });
});
