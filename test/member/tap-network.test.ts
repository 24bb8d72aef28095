// A TAP network of our members: Ethernet frames over the sessions, MACs learned per peer,
// broadcast to every peer within a rate bound, spoofed source MACs refused, original members kept out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SWITCH_LIMITS } from '../../src/member/tap-switch';
import { withMesh, type Mesh } from './mesh';

const MAC = { alice: '02aa00000001', bob: '02bb00000002', carol: '02cc00000003' };
const BROADCAST = 'ffffffffffff';

/** An Ethernet frame carrying an ARP-sized payload (the switch reads only the MACs). */
function frame(destination: string, source: string, body: string): Buffer {
  return Buffer.concat([Buffer.from(destination + source + '0806', 'hex'), Buffer.from(body.padEnd(28, '.'))]);
}

async function tapMesh(mesh: Mesh): Promise<void> {
  await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', mode: 'tap' });
  await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', mode: 'tap' });
  await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', mode: 'tap' });
  for (const [name, others] of [['alice', ['192.168.50.2', '192.168.50.3']], ['bob', ['192.168.50.1', '192.168.50.3']], ['carol', ['192.168.50.1', '192.168.50.2']]] as const) {
    for (const ip of others) await mesh.waitEstablished(name, ip);
  }
  // Frames go only to peers whose peer-info said TAP.
  await mesh.run(300);
}

const has = (mesh: Mesh, name: string, wanted: Buffer) => mesh.get(name).device.written.some((written) => Buffer.from(written).equals(wanted));

test('a broadcast reaches every member and the unicast answer only the asker, whose MAC was learned', async () => {
  await withMesh(async (mesh) => {
    await tapMesh(mesh);
    const request = frame(BROADCAST, MAC.alice, 'who has 192.168.50.2');
    mesh.get('alice').device.inject(request);
    await mesh.until('bob and carol get the broadcast', () => has(mesh, 'bob', request) && has(mesh, 'carol', request));
    const reply = frame(MAC.alice, MAC.bob, '192.168.50.2 is at bob');
    const carolBefore = mesh.get('carol').device.written.length;
    mesh.get('bob').device.inject(reply);
    await mesh.until('alice gets the reply', () => has(mesh, 'alice', reply));
    await mesh.run(100);
    assert.equal(mesh.get('carol').device.written.length, carolBefore, 'the reply went to alice alone');
    assert.equal(mesh.peerOf('bob', '192.168.50.1')?.packetsOut, 1);
  });
});

test('floods beyond the rate bound are dropped and counted; a MAC another peer holds is refused', async () => {
  await withMesh(async (mesh) => {
    await tapMesh(mesh);
    const alice = mesh.get('alice');
    const burst = Array.from({ length: DEFAULT_SWITCH_LIMITS.floodBurst + 50 }, (_, i) => frame(BROADCAST, MAC.alice, `flood ${i}`));
    alice.device.inject(...burst);
    await mesh.settle();
    assert.equal(alice.member.status().drops.flood_limited, 50);
    await mesh.until('bob got the bounded burst', () => mesh.get('bob').device.written.length >= DEFAULT_SWITCH_LIMITS.floodBurst);

    const forged = frame(BROADCAST, MAC.alice, 'carol pretending');
    mesh.get('carol').device.inject(forged);
    await mesh.until('bob refuses alice\'s MAC from carol', () => mesh.peerOf('bob', '192.168.50.3')?.drops.spoofed_source === 1);
    assert.ok(!has(mesh, 'bob', forged));
  });
});

test('an original member cannot join a TAP network: refused with the reason', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', mode: 'tap' });
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', announceMeshboi: false });
    await mesh.until('alice refuses carol', () => alice.logs.count('refused a peer of the other mode') > 0);
    const carol = alice.member.status().peers.find((peer) => peer.outsideAddress.startsWith('192.0.2.30'));
    assert.match(carol?.lastError ?? '', /original member, which only knows TUN/);
  });
});
