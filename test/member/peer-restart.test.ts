// A peer that crashes and comes back, on the same outside address or a new one, is reconnected
// and its old session replaced, whichever role it has, well before dead-peer detection would act.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh, type MeshMember, withMesh } from './mesh';

/** Stops a member without a word on the wire, as a crash or kill -9 would. */
async function crash(mesh: Mesh, member: MeshMember): Promise<void> {
  const address = member.transport.localEndpoint().address;
  const previous = mesh.network.interceptor;
  mesh.network.interceptor = (d) => (d.from.address === address ? null : previous(d));
  await mesh.stopMember(member.name);
  mesh.network.interceptor = previous;
}

// Alice's dead-peer detection is slowed so only the restart handling can reconnect in time.
const SLOW_DEATH = { deadAfterMs: 60_000, removeAfterMs: 60_000 };

for (const [bobAddress, bobRole] of [
  ['192.0.2.20', 'server'],
  ['192.0.2.5', 'client'],
] as const) {
  test(`a peer restarting on the same outside address is reconnected (the restarted peer is the ${bobRole})`, async () => {
    await withMesh(async (mesh) => {
      await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: SLOW_DEATH });
      const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: bobAddress, port: 7000 });
      const first = await mesh.waitEstablished('alice', '192.168.50.2');
      assert.equal(first.role, bobRole === 'server' ? 'client' : 'server');
      await mesh.ping('alice', 'bob');
      await crash(mesh, bob);

      await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: bobAddress, port: 7000 });
      await mesh.waitEstablished('bob', '192.168.50.1');
      await mesh.until('alice re-handshakes with the new bob', () => mesh.get('alice').logs.count('peer reconnected on the same address') === 1);
      await mesh.ping('alice', 'bob');
      await mesh.ping('bob', 'alice');
      const peers = mesh.get('alice').member.status().peers;
      assert.equal(peers.length, 1);
      assert.equal(peers[0].state, 'established');
    });
  });
}

test('a peer restarting on the same outside address as server is reconnected once it missed two keepalives, not at its next hello', async () => {
  await withMesh(async (mesh) => {
    // Bob's hello after the first would wait 3.75 s or more: only alice looking again in time reconnects sooner.
    const patient = { deadAfterMs: 60_000, retryInitialMs: 5_000, retryMaxMs: 5_000 };
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: patient });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', port: 7000, timings: patient });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await crash(mesh, bob);

    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', port: 7000, timings: patient });
    await mesh.until('alice re-handshakes with the new bob', () => mesh.get('alice').logs.count('peer reconnected on the same address') === 1, 3000);
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
  });
});

test('a peer restarting on a new outside address takes over its VPN IP and the old entry goes', async () => {
  await withMesh(async (mesh) => {
    // Removal keeps its short timing: the rolodex lists the old address until it forgets it, so
    // alice may punch it again for a while before removing it.
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: { deadAfterMs: 60_000 } });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', port: 7000 });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await crash(mesh, bob);

    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', port: 7001 });
    await mesh.until('alice reaches bob at his new address', () => mesh.peerOf('alice', '192.168.50.2')?.outsideAddress === '192.0.2.20:7001');
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    await mesh.until('the old entry is gone', () => mesh.get('alice').member.status().peers.every((p) => p.outsideAddress !== '192.0.2.20:7000'));
    const established = mesh.get('alice').member.status().peers.filter((p) => p.vpnIp === '192.168.50.2' && p.state === 'established');
    assert.equal(established.length, 1, 'one session for the VPN IP, at the new address');
  });
});

for (const [bobAddress, bobRole] of [
  ['192.0.2.20', 'server'],
  ['192.0.2.5', 'client'],
] as const) {
  test(`a peer restarting on a new outside address takes over its VPN IP once the old session is stale, not after the retry backoff (the restarted peer is the ${bobRole})`, async () => {
    await withMesh(async (mesh) => {
      // Retries after a refusal wait 3.75 s or more here: only a retry timed to the old session's staleness is in time.
      const patient = { deadAfterMs: 60_000, retryInitialMs: 5_000, retryMaxMs: 5_000 };
      await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: patient });
      const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: bobAddress, port: 7000, timings: patient });
      await mesh.waitEstablished('alice', '192.168.50.2');
      await crash(mesh, bob);

      await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: bobAddress, port: 7001, timings: patient });
      await mesh.until('alice reaches bob at his new address', () => mesh.peerOf('alice', '192.168.50.2')?.outsideAddress === `${bobAddress}:7001`, 3000);
      await mesh.waitEstablished('bob', '192.168.50.1', 3000);
      await mesh.ping('alice', 'bob');
      await mesh.ping('bob', 'alice');
    });
  });
}

test('a forged hello from the address of a live peer does not make us handshake again', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    const forger = mesh.network.attach('192.0.2.66', 6666);
    const bobEndpoint = bob.transport.localEndpoint();
    mesh.network.interceptor = (d) => (d.from.address === '192.0.2.66' ? { ...d, from: bobEndpoint } : d);
    const aliceEndpoint = alice.transport.localEndpoint();
    for (let i = 0; i < 20; i++) {
      forger.send(Buffer.from('hello'), aliceEndpoint.port, aliceEndpoint.address);
      await mesh.run(10);
    }
    assert.equal(alice.logs.count('peer reconnected on the same address'), 0);
    assert.equal(alice.logs.count('peer established'), 1);
    await mesh.ping('alice', 'bob');
    await forger.close();
  });
});
