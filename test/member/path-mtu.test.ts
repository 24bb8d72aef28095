// Path MTU between our members: size probes raise the MTU toward a peer of ours on a direct path
// to the largest size the path carries in one record; originals and relayed paths keep the
// device's, and a route follows its path when it ends or moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipPacket, pairBehindBlockedNats, withMesh, type Mesh } from './mesh';

/** What a record under ECDHE-PSK with AES-128-GCM adds: a 13-byte header, an 8-byte explicit nonce and a 16-byte tag. */
const RECORD_OVERHEAD = 37;
const IPV4_AND_UDP = 28;

/** Loses every datagram whose IPv4 packet would exceed `mtu` bytes, as a link with that MTU does to datagrams sent with DF. */
function underlayMtu(mesh: Mesh, mtu: number): void {
  mesh.network.interceptor = (datagram) => (datagram.data.length + IPV4_AND_UDP > mtu ? null : datagram);
}

/** A packet of exactly `bytes` from one member's VPN IP to another's. */
function packetOf(bytes: number, source: string, destination: string): Buffer {
  return ipPacket(source, destination, 'x'.repeat(bytes - 20));
}

test('two of our members raise the MTU between them to what an Ethernet underlay leaves, and packets of that size cross', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    const expected = 1500 - IPV4_AND_UDP - RECORD_OVERHEAD;
    await mesh.until('both raised the MTU', () => alice.peerMtus.get('192.168.50.2') === expected && bob.peerMtus.get('192.168.50.1') === expected, 3_000);
    assert.equal(mesh.peerOf('alice', '192.168.50.2')?.mtu, expected);
    assert.equal(alice.member.status().tun.mtu, 1200, 'the device keeps its MTU');
    const large = packetOf(expected, '192.168.50.1', '192.168.50.2');
    alice.device.inject(large);
    await mesh.until('bob\'s TUN has the large packet', () => bob.device.written.some((packet) => packet.equals(large)));
    assert.ok(alice.logs.lines.some((line) => line.message === 'path MTU raised' && line.mtu === expected));
  });
});

test('a path that loses datagrams above 1,400 bytes gets the largest size whose records fit it', async () => {
  await withMesh(async (mesh) => {
    underlayMtu(mesh, 1400);
    const [alice] = await mesh.addPair();
    const expected = 1400 - IPV4_AND_UDP - RECORD_OVERHEAD;
    await mesh.until('alice raised the MTU', () => alice.peerMtus.has('192.168.50.2'), 3_000);
    await mesh.run(10_000);
    assert.equal(alice.peerMtus.get('192.168.50.2'), expected, 'no larger size got through later');
  });
});

test('when no size probe gets through, the peer keeps the device MTU and packets still flow', async () => {
  await withMesh(async (mesh) => {
    underlayMtu(mesh, 1260);
    const [alice] = await mesh.addPair();
    await mesh.run(10_000);
    assert.equal(alice.peerMtus.size, 0);
    assert.equal(mesh.peerOf('alice', '192.168.50.2')?.mtu, null);
    await mesh.ping('alice', 'bob');
  });
});

test('an original peer is sent no size probe and keeps the device MTU', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    const original = await mesh.addMember('original', { vpnIp: '192.168.50.2', address: '192.0.2.20', announceMeshboi: false });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.run(10_000);
    assert.equal(alice.peerMtus.size, 0);
    assert.ok(original.device.written.every((packet) => packet[0] >> 4 !== 1), 'no probe record reached the original\'s TUN');
    assert.equal(mesh.peerOf('original', '192.168.50.1')?.drops.malformed, 0);
  });
});

test('a relayed pair keeps the device MTU, and gets the larger one once it moves to a direct path', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    const nats = await pairBehindBlockedNats(mesh);
    const a = mesh.get('a');
    assert.equal((await mesh.waitEstablished('a', '192.168.50.2', 3_000)).path, 'relay');
    await mesh.run(5_000);
    assert.equal(a.peerMtus.has('192.168.50.2'), false, 'no raised MTU through the relay');
    assert.ok(a.peerMtus.has('192.168.50.9'), 'the relay member itself is direct');
    nats.unblock();
    await mesh.until('a and b direct', () => mesh.peerOf('a', '192.168.50.2')?.path === 'direct', 5_000);
    await mesh.until('a raised the MTU toward b', () => a.peerMtus.has('192.168.50.2'), 3_000);
  });
});

test('a peer that stops loses its raised MTU', async () => {
  await withMesh(async (mesh) => {
    const [alice] = await mesh.addPair();
    await mesh.until('alice raised the MTU', () => alice.peerMtus.has('192.168.50.2'), 3_000);
    await mesh.stopMember('bob');
    await mesh.until('the route is gone', () => alice.peerMtus.size === 0, 3_000);
  });
});

test('a path whose MTU shrinks is followed down at the next check, ten minutes on, and back up once it grows again', async () => {
  await withMesh(async (mesh) => {
    const [alice] = await mesh.addPair();
    const ethernet = 1500 - IPV4_AND_UDP - RECORD_OVERHEAD;
    await mesh.until('alice raised the MTU', () => alice.peerMtus.get('192.168.50.2') === ethernet, 3_000);
    underlayMtu(mesh, 1400);
    await mesh.run(9 * 60_000);
    assert.equal(alice.peerMtus.get('192.168.50.2'), ethernet, 'nothing changes before the check is due');
    await mesh.until('the next check lowers the MTU', () => alice.peerMtus.get('192.168.50.2') === 1400 - IPV4_AND_UDP - RECORD_OVERHEAD, 2 * 60_000);
    assert.ok(alice.logs.lines.some((line) => line.message === 'path MTU lowered' && line.from === ethernet));
    underlayMtu(mesh, 1260);
    await mesh.until('a check where nothing large gets through removes the route', () => !alice.peerMtus.has('192.168.50.2'), 11 * 60_000);
    await mesh.ping('alice', 'bob');
    mesh.network.interceptor = (datagram) => datagram;
    await mesh.until('the MTU is raised again', () => alice.peerMtus.get('192.168.50.2') === ethernet, 11 * 60_000);
  });
});
