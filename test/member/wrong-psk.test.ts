// A member with the wrong PSK reaches nobody, and the others carry on: their sessions with each
// other stay up and carry traffic, the intruder shows as a failed peer, and each side warns once
// per peer that the PSKs differ, however often the handshake is retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PSK_WARNING_INTERVAL_MS } from '../../src/member/handshake-watch';
import { withMesh } from './mesh';

const PSK_WARNING = 'handshake failed: the PSKs differ; give every member of the network the same PSK';

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
      for (const stranger of strangers) assert.ok(stranger.handshakes.failed.psk_mismatch >= 2, `${name} retried ${stranger.outsideAddress} and counted each failure`);
      assert.ok(status.handshakes.failed.psk_mismatch >= 4);
      const alarms = mesh.get(name).logs.lines.filter((l) => (l.level === 'warn' || l.level === 'error') && l.component !== 'rolodex-client');
      assert.deepEqual(alarms.map((l) => l.message), [PSK_WARNING, PSK_WARNING], `${name} warns once per intruder`);
      assert.deepEqual(alarms.map((l) => String(l.endpoint).split(':')[0]).sort(), ['192.0.2.5', '192.0.2.99']);
    }
    for (const intruder of ['mallory', 'trudy']) assert.equal(mesh.get(intruder).logs.count(PSK_WARNING), 3, `${intruder} (its own PSK) warns once per member it cannot reach`);
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    assert.ok(mesh.peerOf('alice', '192.168.50.2')!.sinceHandshakeMs! > aliceBobHandshake + 900, 'alice and bob kept their session');
    await mesh.run(PSK_WARNING_INTERVAL_MS);
    assert.equal(mesh.get('alice').logs.count(PSK_WARNING), 4, 'after the interval, one more warning per intruder still failing');
  });
});
