// A rolodex is untrusted: one that lists many members that do not exist costs a member a
// bounded number of peers, each probed with backoff, and no harm to its real sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMINGS } from '../../src/member/main';
import { withMesh, type Mesh } from './mesh';

/** Makes the rolodex's maps to alice (192.0.2.10) list `count` invented members, before or after the real ones. */
function inventMembers(mesh: Mesh, count: number, where: 'before' | 'after'): void {
  const fakes = Array.from({ length: count }, (_, i) => `198.18.${i >> 8}.${i & 255}:9999`);
  mesh.network.interceptor = (d) => {
    if (d.from.address !== '198.51.100.1' || d.to.address !== '192.0.2.10') return d;
    const map = JSON.parse(d.data.toString()) as { Addresses: string[]; YourIndex: number };
    const listed = where === 'before' ? { Addresses: [...fakes, ...map.Addresses], YourIndex: map.YourIndex + count } : { Addresses: [...map.Addresses, ...fakes] };
    return { ...d, data: Buffer.from(JSON.stringify({ ...map, ...listed })) };
  };
}

test('a rolodex listing a flood of made-up members fills at most maxPeers and real peers still connect', async () => {
  await withMesh(async (mesh) => {
    inventMembers(mesh, 200, 'after');
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: { maxPeers: 10 } });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.run(300);
    assert.equal(alice.member.status().peers.length, 10);
    assert.equal(alice.logs.count('ignoring a listed member: too many peers'), 1, 'the refusal is logged once, not per map');
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
  });
});

test('invented listings ahead of the real ones take turns in a full table, so a real peer still connects', async () => {
  await withMesh(async (mesh) => {
    inventMembers(mesh, 400, 'before');
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: { maxPeers: 100 } });
    await mesh.run(400);
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    await mesh.waitEstablished('alice', '192.168.50.2', 15_000);
    assert.ok(alice.member.status().peers.length <= 100);
    await mesh.ping('alice', 'bob');
  });
});

test('a listed member that punches toward a full table takes a place at once instead of queuing behind invented ones', async () => {
  await withMesh(async (mesh) => {
    inventMembers(mesh, 30, 'before');
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: { maxPeers: 10, peerTrialMs: 10_000 } });
    await mesh.run(12_000);
    // Bob's outside address sorts after alice's: he is the server and only sends `hello`s until her ClientHello.
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    // In turn he would wait for three trials of ten invented peers each.
    await mesh.waitEstablished('alice', '192.168.50.2', 8_000);
    assert.ok(alice.member.status().peers.length <= 10);
    await mesh.ping('bob', 'alice');
  });
});

test('at real timings, 2,000 invented listings and maps forged with the rolodex\'s address leave a real peer, and one restarted on a new port, connecting within 30 s', async () => {
  await withMesh(
    async (mesh) => {
      inventMembers(mesh, 2000, 'before');
      // Anyone on the path can forge maps from the rolodex's address: the protocol has no authentication.
      const forgedFakes = Array.from({ length: 2000 }, (_, i) => `198.19.${i >> 8}.${i & 255}:7777`);
      const forged = Buffer.from(JSON.stringify({ Addresses: ['192.0.2.10:40000', ...forgedFakes], YourIndex: 0 }));
      const forge = (): void => mesh.network.route({ from: { address: '198.51.100.1', port: 6264 }, to: { address: '192.0.2.10', port: 40000 }, data: forged });
      const forging = mesh.clock.setInterval(forge, 1000);
      try {
        const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', port: 40000, timings: DEFAULT_TIMINGS });
        forge();
        await mesh.run(20_000);
        assert.equal(alice.member.status().peers.length, DEFAULT_TIMINGS.maxPeers, 'the table is full of invented peers');
        await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings: DEFAULT_TIMINGS });
        await mesh.waitEstablished('alice', '192.168.50.2', 30_000);
        await mesh.ping('alice', 'bob');
        await mesh.stopMember('bob');
        await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings: DEFAULT_TIMINGS });
        const restarted = mesh.get('bob').transport.localEndpoint();
        await mesh.until(
          'alice reconnects with bob on his new port',
          () => mesh.peerOf('alice', '192.168.50.2')?.endpoint === `192.0.2.20:${restarted.port}`,
          30_000,
        );
        await mesh.ping('bob', 'alice');
        assert.ok(alice.member.status().peers.length <= DEFAULT_TIMINGS.maxPeers);
      } finally {
        mesh.clock.clear(forging);
      }
    },
    { summaryIntervalMs: 0 },
  );
});
