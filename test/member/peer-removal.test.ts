// Peers that stop are closed and removed within a bounded time: at once on close_notify, after
// dead-peer detection when they vanish silently, and once no rolodex lists them any more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAST_TIMINGS, ipPacket, withMesh } from './mesh';

test('a member that stops sends close_notify; its peers close it at once and remove it once the rolodex forgets it', async () => {
  await withMesh(async (mesh) => {
    await mesh.addPair();
    await mesh.stopMember('bob');
    await mesh.until('alice closes bob on his close_notify', () => mesh.get('alice').logs.lines.some((l) => l.message === 'peer closed' && l.reason === 'the peer closed the session'));
    await mesh.until('alice removes bob', () => mesh.get('alice').member.status().peers.length === 0, 5000);
  });
});

test('one of our peers that falls silent is closed by dead-peer detection and punched again while listed', async () => {
  await withMesh(async (mesh) => {
    const [alice] = await mesh.addPair();
    // Bob still heartbeats (so the rolodex lists him), but nothing of his reaches alice.
    mesh.network.interceptor = (d) => (d.from.address === '192.0.2.20' && d.to.address === '192.0.2.10' ? null : d);
    await mesh.until('alice declares bob dead', () => alice.logs.lines.some((l) => l.message === 'peer closed' && /no authenticated record/.test(String(l.reason))));
    alice.device.inject(ipPacket('192.168.50.1', '192.168.50.2', 'while reconnecting'));
    const bob = alice.member.status().peers.find((p) => p.outsideAddress.startsWith('192.0.2.20'));
    assert.ok(bob, 'still listed, so kept and punched again');
    assert.notEqual(bob.state, 'established');
    assert.equal(bob.vpnIp, '192.168.50.2', 'the address it is expected to come back with');
    assert.equal(bob.drops.not_established, 1, 'a packet for it meanwhile is counted, not sent');
    mesh.network.interceptor = (d) => d;
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.ping('bob', 'alice');
  });
});

test('a member that vanishes without a word is removed once no rolodex lists it', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    // Power cut: everything bob would still send is lost, close_notify included.
    mesh.network.interceptor = (d) => (d.from.address === '192.0.2.20' ? null : d);
    await mesh.stopMember('bob');
    await mesh.until('alice removes bob', () => alice.member.status().peers.length === 0, 5000);
    assert.equal(bob.device.written.length, 0);
  });
});

test('idle peers stay up: keepalives prove them alive long after the dead-peer interval', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    const first = await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.run(2 * FAST_TIMINGS.deadAfterMs);
    const later = mesh.peerOf('alice', '192.168.50.2');
    assert.ok(later, 'still established after two dead-peer intervals without traffic');
    assert.ok(later.sinceHandshakeMs! >= first.sinceHandshakeMs! + 2 * FAST_TIMINGS.deadAfterMs - 50, 'the same session, not a new handshake');
    await mesh.ping('alice', 'bob');
  });
});
