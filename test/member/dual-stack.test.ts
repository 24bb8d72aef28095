// Dual-stack members: the IPv6 address travels in peer-info between our members only, is routed
// to its member and passes the inner-source check; original peers know the IPv4 address alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipPacket, withMesh } from './mesh';

test('our dual-stack members learn each other\'s IPv6 address and carry IPv6 packets both ways', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', secondVpnIp: 'fd00:6d62::1', address: '192.0.2.10' });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', secondVpnIp: 'fd00:6d62::2', address: '192.0.2.20' });
    await mesh.until('each knows the other\'s IPv6 address', () =>
      mesh.peerOf('alice', '192.168.50.2')?.extraVpnIps[0] === 'fd00:6d62::2' && mesh.peerOf('bob', '192.168.50.1')?.extraVpnIps[0] === 'fd00:6d62::1');
    assert.deepEqual(alice.member.status().vpnIps, ['192.168.50.1', 'fd00:6d62::1']);

    const there = ipPacket('fd00:6d62::1', 'fd00:6d62::2', 'v6 there');
    alice.device.inject(there);
    await mesh.until('bob\'s TUN has the IPv6 packet', () => bob.device.written.some((packet) => packet.equals(there)));
    const back = ipPacket('fd00:6d62::2', 'fd00:6d62::1', 'v6 back');
    bob.device.inject(back);
    await mesh.until('alice\'s TUN has the IPv6 reply', () => alice.device.written.some((packet) => packet.equals(back)));
    await mesh.ping('alice', 'bob');

    // An IPv6 source that is not bob's is still refused.
    bob.device.inject(ipPacket('fd00:6d62::99', 'fd00:6d62::1', 'forged'));
    await mesh.until('alice counts the forged source', () => mesh.peerOf('alice', '192.168.50.2')?.drops.spoofed_source === 1);
  });
});

test('an original peer never receives peer-info and stays an IPv4 address only', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', secondVpnIp: 'fd00:6d62::1', address: '192.0.2.10', name: 'alice' });
    const carol = await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', announceMeshboi: false });
    await mesh.waitEstablished('alice', '192.168.50.3');
    await mesh.waitEstablished('carol', '192.168.50.1');
    await mesh.ping('alice', 'carol');
    await mesh.ping('carol', 'alice');
    await mesh.run(1_000);
    const fromAlice = mesh.peerOf('carol', '192.168.50.1')!;
    assert.equal(carol.member.status().drops.control_unknown, 0, 'carol got no control record');
    assert.equal(fromAlice.drops.malformed, 0);
    assert.deepEqual(fromAlice.extraVpnIps, []);
    const carolSeen = mesh.peerOf('alice', '192.168.50.3')!;
    assert.equal(carolSeen.kind, 'original');
    assert.equal(carolSeen.name, null);
    // Packets for alice's IPv6 address have no route at carol.
    carol.device.inject(ipPacket('192.168.50.3', 'fd00:6d62::1', 'nowhere'));
    assert.equal(carol.member.status().drops.no_route, 1);
    assert.equal(alice.member.status().drops.peer_info_malformed, 0);
  });
});

test('a peer claiming our own or another member\'s IPv6 address gets nothing of it', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', secondVpnIp: 'fd00:6d62::1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', secondVpnIp: 'fd00:6d62::1', address: '192.0.2.20' });
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', secondVpnIp: 'fd00:6d62::2', address: '192.0.2.30' });
    await mesh.addMember('dave', { vpnIp: '192.168.50.4', secondVpnIp: 'fd00:6d62::2', address: '192.0.2.40' });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.waitEstablished('alice', '192.168.50.3');
    await mesh.waitEstablished('alice', '192.168.50.4');
    await mesh.run(500);
    assert.deepEqual(mesh.peerOf('alice', '192.168.50.2')!.extraVpnIps, []);
    const refusals = mesh.get('alice').logs.lines.filter((line) => line.message === 'refused part of a peer\'s claims').map((line) => String(line.reason));
    assert.ok(refusals.includes('VPN IP fd00:6d62::1 is ours'), refusals.join('; '));
    // Carol and dave claim one address: whoever told alice first keeps it, the other is refused.
    const holders = ['192.168.50.3', '192.168.50.4'].filter((ip) => mesh.peerOf('alice', ip)!.extraVpnIps.includes('fd00:6d62::2'));
    assert.equal(holders.length, 1);
    assert.ok(refusals.some((reason) => reason === `VPN IP fd00:6d62::2 belongs to ${holders[0]}`), refusals.join('; '));
  });
});

test('two VPN IPs must be one of each family, IPv4 first', async () => {
  await withMesh(async (mesh) => {
    await assert.rejects(mesh.addMember('alice', { vpnIp: 'fd00::1', secondVpnIp: 'fd00:6d62::1', address: '192.0.2.10' }), /one IPv4 and one IPv6 address/);
  });
});
