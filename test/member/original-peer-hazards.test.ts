// Toward an original (Go/pion) peer the member never sends what would end that peer's process:
// no close_notify or other alert, no empty application-data record; idle keepalives are one
// plain byte, and such a peer is not declared dead for not sending keepalives itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CipherSuiteId } from '../../src/dtls/api';
import { sleep } from './harness';
import { FAST_TIMINGS, withMesh } from './mesh';

const ALERT = 21;
const APPLICATION_DATA = 23;

test('an original peer never receives close_notify, an alert or an empty record, and stays up while idle', async () => {
  const wire: Array<{ from: string; bytes: Buffer }> = [];
  await withMesh(async (mesh) => {
    // The one suite an original peer speaks.
    const cipherSuites = [CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8];
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', cipherSuites });
    // Bob's sessions neither offer nor echo our capability extension, exactly as pion's do.
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', cipherSuites, announceMeshboi: false });
    const bobSeen = await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.waitEstablished('bob', '192.168.50.1');
    assert.equal(bobSeen.kind, 'original');
    assert.equal(bobSeen.cipherSuite, 'TLS_PSK_WITH_AES_128_CCM_8');
    const members = new Set(['192.0.2.10', '192.0.2.20']);
    mesh.network.interceptor = (d) => {
      if (members.has(d.from.address) && members.has(d.to.address)) wire.push({ from: d.from.address, bytes: Buffer.from(d.data) });
      return d;
    };

    // Idle for twice the dead-peer interval: only plain keepalives, and the session survives.
    await sleep(2 * FAST_TIMINGS.deadAfterMs);
    assert.ok(wire.length >= 4, 'keepalives flowed both ways');
    assert.ok(wire.every((d) => d.bytes.length === 1), 'idle traffic is one-byte plain datagrams, never an (empty) record');
    assert.ok(mesh.peerOf('alice', '192.168.50.2'), 'an original peer is not declared dead for sending no keepalives');

    await mesh.ping('alice', 'bob');
    const records = wire.filter((d) => d.bytes[0] === APPLICATION_DATA);
    assert.equal(records.length, 1, 'exactly the one packet, as one application-data record');

    await mesh.stopMember('alice');
    assert.equal(wire.filter((d) => d.bytes[0] === ALERT).length, 0, 'no close_notify or other alert on stop');
    assert.ok(mesh.peerOf('bob', '192.168.50.1'), 'bob did not even notice');
    assert.equal(bob.device.written.length, 1);
  });
});

test('one of our peers does get close_notify when the member stops', async () => {
  await withMesh(async (mesh) => {
    const alerts: string[] = [];
    await mesh.addPair();
    mesh.network.interceptor = (d) => {
      if (d.data[0] === ALERT) alerts.push(d.from.address);
      return d;
    };
    await mesh.stopMember('alice');
    assert.deepEqual(alerts, ['192.0.2.10']);
  });
});
