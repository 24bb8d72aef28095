// The packet path's checks: a peer may only send packets from its own VPN IP, packets without a
// route or too short to be IP are counted, and IPv6 destinations are routed like IPv4 ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipPacket, withMesh } from './mesh';

test('a packet whose inner source is not the sending peer\'s VPN IP is dropped and counted', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    // Bob's kernel routes a packet claiming carol's address to alice through bob's tunnel.
    bob.device.inject(ipPacket('192.168.50.3', '192.168.50.1', 'forged'));
    await mesh.until('alice counts the spoofed packet', () => mesh.peerOf('alice', '192.168.50.2')?.drops.spoofed_source === 1);
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

test('members with IPv6 VPN addresses route packets by their IPv6 destination, also when addresses share their last 32 bits', async () => {
  await withMesh(async (mesh) => {
    const addresses = { alice: 'fd00::1', bob: 'fd00::2', carol: 'fd00:0:0:1::2' };
    await mesh.addMember('alice', { vpnIp: addresses.alice, address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: addresses.bob, address: '192.0.2.20' });
    await mesh.addMember('carol', { vpnIp: addresses.carol, address: '192.0.2.30' });
    for (const [name, own] of Object.entries(addresses)) {
      for (const ip of Object.values(addresses)) if (ip !== own) await mesh.waitEstablished(name, ip);
    }
    await mesh.ping('alice', 'carol');
    await mesh.ping('alice', 'bob');
    await mesh.ping('carol', 'bob');
    await mesh.ping('bob', 'alice');
    assert.equal(mesh.peerOf('alice', addresses.carol)?.packetsOut, 1);
    assert.equal(mesh.peerOf('alice', addresses.bob)?.packetsOut, 1);
    assert.equal(mesh.peerOf('bob', addresses.carol)?.packetsIn, 1);
  });
});
