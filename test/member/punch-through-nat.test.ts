// Two or three members meet through the real rolodex and real DTLS on the in-memory network,
// behind simulated NATs, and carry packets both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeHandles, assertNoLeaks } from './harness';
import { Mesh } from './mesh';

test('two members on public addresses connect and carry packets both ways', async () => {
  const before = activeHandles();
  const mesh = new Mesh();
  try {
    mesh.addRolodex();
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    const bobSeen = await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.waitEstablished('bob', '192.168.50.1');
    assert.equal(bobSeen.kind, 'meshboi');
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    const status = mesh.get('alice').member.status();
    assert.equal(status.outsideAddress, '192.0.2.10:40000'.replace('40000', String(mesh.get('alice').transport.localEndpoint().port)));
    const peer = status.peers[0];
    assert.equal(peer.packetsIn, 1);
    assert.equal(peer.packetsOut, 1);
  } finally {
    await mesh.close();
  }
  await assertNoLeaks(before);
});
