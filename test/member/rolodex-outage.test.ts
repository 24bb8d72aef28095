// The rolodex going down leaves established sessions alone: traffic keeps flowing past every
// liveness interval, the outage is logged once, and the member re-registers when it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeHandles, assertNoLeaks, eventually, sleep } from './harness';
import { Mesh } from './mesh';

test('when the rolodex goes down traffic keeps flowing, and the member registers again when it returns', async () => {
  const before = activeHandles();
  const mesh = new Mesh();
  try {
    const rolodex = mesh.addRolodex();
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.waitEstablished('bob', '192.168.50.1');
    const handshakeAge = mesh.peerOf('alice', '192.168.50.2')!.sinceHandshakeMs!;

    await rolodex.stop();
    mesh.rolodexes.splice(0);
    // Longer than the silence, dead-peer, removal and listing-grace intervals together.
    for (let i = 0; i < 6; i++) {
      await sleep(150);
      await mesh.ping('alice', 'bob');
      await mesh.ping('bob', 'alice');
    }
    assert.equal(alice.logs.count(/rolodex went silent/), 1, 'the outage is logged once');
    assert.equal(alice.member.status().rolodexes[0].reachable, false);
    const peer = mesh.peerOf('alice', '192.168.50.2');
    assert.ok(peer, 'the session survived the outage');
    assert.ok(peer.sinceHandshakeMs! > handshakeAge + 800, 'the same session: no re-handshake');

    const back = mesh.addRolodex();
    await eventually('alice registers again', () => alice.member.status().rolodexes[0].reachable && back.stats().members === 2);
    assert.equal(alice.logs.count('rolodex answers'), 1, 'the end of the outage is logged once');
    await mesh.ping('alice', 'bob');
  } finally {
    await mesh.close();
  }
  await assertNoLeaks(before);
});
