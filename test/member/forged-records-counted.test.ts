// Records forged with a peer's source address, and replays of its real ones, are dropped by the
// DTLS session and now show in status (and so in metrics): per peer and member-wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InFlight } from '../../src/net/memory-network';
import { withMesh } from './mesh';

const APPLICATION_DATA = 23;
const FORGED = 2_000;

test('forged records from a peer\'s address count as auth drops, a replayed one as a replay, and none reaches TUN', async () => {
  await withMesh(async (mesh) => {
    const [alice] = await mesh.addPair();
    let captured: InFlight | null = null;
    mesh.network.interceptor = (datagram) => {
      if (datagram.from.address === '192.0.2.20' && datagram.to.address === '192.0.2.10' && datagram.data[0] === APPLICATION_DATA) captured ??= datagram;
      return datagram;
    };
    await mesh.ping('bob', 'alice');
    mesh.network.interceptor = (datagram) => datagram;
    assert.ok(captured, 'a record of bob to alice was seen');
    const real: InFlight = captured;

    const before = mesh.peerOf('alice', '192.168.50.2')!;
    const written = alice.device.written.length;
    // Fresh sequence numbers (bytes 5-10 of the record header) so the replay window lets each
    // through to authentication, which fails: the header is part of the AEAD's additional data.
    const sequence = real.data.readUIntBE(5, 6);
    for (let i = 0; i < FORGED; i++) {
      const data = Buffer.from(real.data);
      data.writeUIntBE(sequence + 1_000 + i, 5, 6);
      mesh.network.route({ from: real.from, to: real.to, data });
    }
    mesh.network.route({ from: real.from, to: real.to, data: Buffer.from(real.data) });
    await mesh.settle();

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
