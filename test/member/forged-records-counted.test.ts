// Records forged with a peer's source address, and replays of its real ones, are dropped by the
// DTLS session and now show in status (and so in metrics): per peer and member-wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InFlight } from '../../src/net/memory-network';
import { withMesh, type Mesh } from './mesh';

const APPLICATION_DATA = 23;
const FORGED = 2_000;

/** A copy of the first application-data record bob sends alice, caught while bob pings her. */
async function recordOfBob(mesh: Mesh): Promise<InFlight> {
  let captured: InFlight | null = null;
  mesh.network.interceptor = (datagram) => {
    if (datagram.from.address === '192.0.2.20' && datagram.to.address === '192.0.2.10' && datagram.data[0] === APPLICATION_DATA) captured ??= datagram;
    return datagram;
  };
  await mesh.ping('bob', 'alice');
  mesh.network.interceptor = (datagram) => datagram;
  assert.ok(captured, 'a record of bob to alice was seen');
  return captured;
}

/**
 * Sends alice `count` copies of bob's `real` record with fresh sequence numbers (bytes 5-10 of the
 * header), so the replay window lets each through to authentication, which fails: the header is
 * part of the AEAD's additional data.
 */
async function forge(mesh: Mesh, real: InFlight, count: number): Promise<void> {
  const sequence = real.data.readUIntBE(5, 6);
  for (let i = 0; i < count; i++) {
    const data = Buffer.from(real.data);
    data.writeUIntBE(sequence + 1_000 + i, 5, 6);
    mesh.network.route({ ...real, data });
  }
  await mesh.settle();
}

test('forged records from a peer\'s address count as auth drops, a replayed one as a replay, and none reaches TUN', async () => {
  await withMesh(async (mesh) => {
    const [alice] = await mesh.addPair();
    const real = await recordOfBob(mesh);
    const before = mesh.peerOf('alice', '192.168.50.2')!;
    const written = alice.device.written.length;
    mesh.network.route({ ...real, data: Buffer.from(real.data) });
    await forge(mesh, real, FORGED);

    const after = mesh.peerOf('alice', '192.168.50.2')!;
    assert.equal(after.dtls.droppedAuth - before.dtls.droppedAuth, FORGED);
    assert.equal(after.dtls.droppedReplay - before.dtls.droppedReplay, 1);
    assert.equal(after.packetsIn, before.packetsIn);
    assert.equal(alice.device.written.length, written);
    const status = alice.member.status();
    assert.equal(status.dtls.droppedAuth, status.peers.reduce((sum, peer) => sum + peer.dtls.droppedAuth, 0));
    assert.ok(status.dtls.droppedAuth >= FORGED);
    await mesh.ping('bob', 'alice');
  });
});

test('what a session counted stays in the peer\'s and the member\'s totals once a new session replaces it', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', port: 7000 });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await forge(mesh, await recordOfBob(mesh), FORGED);
    const before = mesh.peerOf('alice', '192.168.50.2')!.dtls;
    const memberBefore = alice.member.status().dtls;

    // Bob restarts on the same port without a word (his close_notify lost): alice keeps the peer and replaces its session.
    mesh.network.interceptor = (datagram) => (datagram.from.address === '192.0.2.20' ? null : datagram);
    await mesh.stopMember('bob');
    mesh.network.interceptor = (datagram) => datagram;
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', port: 7000 });
    await mesh.until('alice re-handshakes with the new bob', () => alice.logs.count('peer reconnected on the same address') === 1, 30_000);
    await mesh.ping('alice', 'bob');

    const after = mesh.peerOf('alice', '192.168.50.2')!;
    assert.equal(after.handshakes.completed, 2, 'the session was replaced');
    for (const [counter, value] of Object.entries(before) as Array<[keyof typeof before, number]>) {
      assert.ok(after.dtls[counter] >= value, `${counter} went from ${value} back to ${after.dtls[counter]}`);
      assert.ok(alice.member.status().dtls[counter] >= memberBefore[counter], `member-wide ${counter} went back`);
    }
    assert.ok(after.dtls.recordsIn > before.recordsIn, 'the new session adds to the total');
  });
});
