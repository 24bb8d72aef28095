// Races in discovery: a ClientHello that arrives before the server's map names the client, and
// two members that both believe they are the client (a rolodex lying about one's address): one
// answers the other's ClientHello, at once or after a jittered retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InFlight } from '../../src/net/memory-network';
import { withMesh } from './mesh';

const ROLODEX = '198.51.100.1';

test('a ClientHello that beats the map is accepted, and the later map adds no second peer', async () => {
  await withMesh(async (mesh) => {
    let holdBobsMaps = true;
    mesh.network.interceptor = (d) => (holdBobsMaps && d.from.address === ROLODEX && d.to.address === '192.0.2.20' ? null : d);
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    await mesh.waitEstablished('bob', '192.168.50.1');
    assert.equal(bob.member.status().outsideAddress, null, 'bob accepted alice before any map reached him');
    holdBobsMaps = false;
    await mesh.until('bob gets his map', () => bob.member.status().outsideAddress !== null);
    await mesh.run(100);
    const peers = bob.member.status().peers;
    assert.equal(peers.length, 1, 'the map names the peer bob already has');
    assert.equal(peers[0].state, 'established');
    assert.equal(bob.logs.count('peer established'), 1, 'no second handshake');
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
  });
});

/** Rewrites maps to `victim` so that its own entry reads 1.0.0.1:1, the smallest address there is. */
function lieAboutOwnAddress(victim: string): (d: InFlight) => InFlight {
  return (d) => {
    if (d.from.address !== ROLODEX || d.to.address !== victim) return d;
    const map = JSON.parse(d.data.toString()) as { Addresses: string[]; YourIndex: number };
    map.Addresses[map.YourIndex] = '1.0.0.1:1';
    return { ...d, data: Buffer.from(JSON.stringify(map)) };
  };
}

test('two members that both believe they are the client still connect', async () => {
  await withMesh(async (mesh) => {
    mesh.network.interceptor = lieAboutOwnAddress('192.0.2.20');
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    await mesh.until('bob believes he is the client', () => bob.member.status().peers[0]?.role === 'client');
    assert.equal(mesh.get('alice').member.status().peers[0]?.role, 'client');
    await mesh.waitEstablished('alice', '192.168.50.2', 8000);
    await mesh.waitEstablished('bob', '192.168.50.1', 8000);
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    const roles = [mesh.peerOf('alice', '192.168.50.2')!.role, mesh.peerOf('bob', '192.168.50.1')!.role].sort();
    assert.deepEqual(roles, ['client', 'server'], 'one side ended up answering the other as server');
  });
});

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const HELLO_VERIFY_REQUEST = 3;
const isMessage = (d: InFlight, from: string, type: number): boolean => d.from.address === from && d.data[0] === HANDSHAKE && d.data[13] === type;

test('stepped packet by packet: a ClientHello that meets our own unanswered one makes us answer as server', async () => {
  await withMesh(async (mesh) => {
    const { network } = mesh;
    network.interceptor = lieAboutOwnAddress('192.0.2.20');
    const members = new Set(['192.0.2.10', '192.0.2.20']);
    // Rolodex traffic flows on its own; what the two members send each other waits for the test.
    mesh.held = (d) => members.has(d.from.address) && members.has(d.to.address);
    const waitQueued = (what: string, which: (d: InFlight) => boolean): Promise<void> => mesh.until(what, () => network.queued.some(which));
    // No retransmissions while the test holds the datagrams.
    const timings = { handshakeRetransmitMs: 2000 };
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings });
    await waitQueued('alice sends a ClientHello', (d) => isMessage(d, '192.0.2.10', CLIENT_HELLO));
    await waitQueued('bob sends a ClientHello', (d) => isMessage(d, '192.0.2.20', CLIENT_HELLO));

    network.step(1, (d) => isMessage(d, '192.0.2.10', CLIENT_HELLO));
    await waitQueued('bob asks alice for a cookie', (d) => isMessage(d, '192.0.2.20', HELLO_VERIFY_REQUEST));
    network.step(1, (d) => isMessage(d, '192.0.2.20', HELLO_VERIFY_REQUEST));
    await waitQueued('alice repeats her ClientHello with the cookie', (d) => isMessage(d, '192.0.2.10', CLIENT_HELLO));
    assert.equal(network.discard((d) => isMessage(d, '192.0.2.20', CLIENT_HELLO)), 1, 'bob\'s own ClientHello is lost');
    network.step(1, (d) => isMessage(d, '192.0.2.10', CLIENT_HELLO));
    assert.equal(bob.logs.count('both sides started as client; answering theirs'), 1, 'bob heard nothing on his own handshake, so he yields');

    mesh.held = () => false;
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.waitEstablished('bob', '192.168.50.1');
    assert.equal(mesh.peerOf('bob', '192.168.50.1')!.role, 'server');
    assert.equal(mesh.peerOf('alice', '192.168.50.2')!.role, 'client');
    await mesh.ping('bob', 'alice');
  });
});
