// The packet path's checks: a peer may only send packets from its own VPN IP, packets without a
// route or too short to be IP are counted, and IPv6 destinations are routed like IPv4 ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './harness';
import { ipPacket, withMesh } from './mesh';

test('a packet whose inner source is not the sending peer\'s VPN IP is dropped and counted', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    // Bob's kernel routes a packet claiming carol's address to alice through bob's tunnel.
    bob.device.inject(ipPacket('192.168.50.3', '192.168.50.1', 'forged'));
    await eventually('alice counts the spoofed packet', () => mesh.peerOf('alice', '192.168.50.2')?.drops.spoofed_source === 1);
    assert.equal(alice.device.written.length, 0, 'nothing reached alice\'s TUN');
    await mesh.ping('bob', 'alice');
    assert.equal(alice.device.written.length, 1);
    assert.equal(mesh.peerOf('alice', '192.168.50.2')?.packetsIn, 1);
  });
});

test('packets without a route or too short to be IP are counted, not sent', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    alice.device.inject(ipPacket('192.168.50.1', '192.168.50.99', 'nobody'), Buffer.from([0x45, 0, 0]), ipPacket('fd00::1', 'fd00::99', 'nobody'));
    const { drops } = alice.member.status();
    assert.equal(drops.no_route, 2);
    assert.equal(drops.malformed, 1);
  });
});

test('members with IPv6 VPN addresses route packets by their IPv6 destination', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: 'fd00::1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: 'fd00::2', address: '192.0.2.20' });
    await mesh.addMember('carol', { vpnIp: 'fd00::3', address: '192.0.2.30' });
    for (const name of ['alice', 'bob', 'carol']) {
      for (const ip of ['fd00::1', 'fd00::2', 'fd00::3']) if (mesh.get(name).config.vpnIp !== ip) await mesh.waitEstablished(name, ip);
    }
    await mesh.ping('alice', 'carol');
    await mesh.ping('carol', 'bob');
    await mesh.ping('bob', 'alice');
    assert.equal(mesh.peerOf('carol', 'fd00::1')?.packetsIn, 1);
    assert.equal(mesh.peerOf('carol', 'fd00::2')?.packetsOut, 1);
  });
});
