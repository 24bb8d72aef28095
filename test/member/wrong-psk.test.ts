// A member with the wrong PSK reaches nobody, and the others do not notice: their sessions
// with each other stay up and carry traffic, and the intruder only shows as a failed peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withMesh } from './mesh';

test('a member with the wrong PSK reaches nobody and the others carry on', async () => {
  await withMesh(async (mesh) => {
    await mesh.addPair();
    const aliceBobHandshake = mesh.peerOf('alice', '192.168.50.2')!.sinceHandshakeMs!;
    // One intruder sorts below both (client to both), one above (server to both).
    await mesh.addMember('mallory', { vpnIp: '192.168.50.66', address: '192.0.2.5', psk: Buffer.from('not the right password') });
    await mesh.addMember('trudy', { vpnIp: '192.168.50.77', address: '192.0.2.99', psk: Buffer.from('another wrong password') });
    await mesh.run(1000);
    for (const intruder of ['mallory', 'trudy']) {
      assert.equal(mesh.get(intruder).member.status().peers.filter((p) => p.state === 'established').length, 0, `${intruder} reached nobody`);
    }
    for (const name of ['alice', 'bob']) {
      const status = mesh.get(name).member.status();
      const strangers = status.peers.filter((p) => p.vpnIp === null);
      assert.equal(strangers.length, 2, `${name} knows the intruders only by address`);
      for (const stranger of strangers) assert.notEqual(stranger.state, 'established');
      assert.ok(strangers.some((s) => s.lastError !== null), `${name} shows why the handshake failed`);
      const alarms = mesh.get(name).logs.lines.filter((l) => (l.level === 'warn' || l.level === 'error') && l.component !== 'rolodex-client');
      assert.deepEqual(alarms, [], `${name} logs nothing alarming about failed handshakes`);
    }
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    assert.ok(mesh.peerOf('alice', '192.168.50.2')!.sinceHandshakeMs! > aliceBobHandshake + 900, 'alice and bob kept their session');
  });
});
