// Toward an original (Go/pion) peer the member never sends what would end that peer's process:
// no close_notify or other alert, no empty application-data record, no datagram pion cannot split
// into whole records, none longer than pion reads; idle keepalives are records pion discards,
// and such a peer is not declared dead for not sending keepalives itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CipherSuiteId } from '../../src/dtls/index';
import { HELLO, ORIGINAL_KEEPALIVE } from '../../src/member/unsealed-datagrams';
import { FAST_TIMINGS, ipPacket, withMesh } from './mesh';

const ALERT = 21;
const APPLICATION_DATA = 23;
const RECORD_HEADER = 13;

/**
 * pion v2's recordlayer.UnpackDatagram, the first thing its read loop does with a datagram: it
 * fails (and the original member exits) unless the datagram is whole records of 14 bytes or more.
 */
function pionSplits(datagram: Buffer): boolean {
  for (let offset = 0; offset !== datagram.length; ) {
    if (datagram.length - offset <= RECORD_HEADER) return false;
    const end = offset + RECORD_HEADER + datagram.readUInt16BE(offset + 11);
    if (end > datagram.length) return false;
    offset = end;
  }
  return true;
}

test('hello and the keepalive for original peers split into whole records of an epoch pion never reaches', () => {
  for (const datagram of [HELLO, ORIGINAL_KEEPALIVE]) {
    assert.ok(pionSplits(datagram));
    assert.equal(datagram.readUInt16BE(3), 0xffff, 'pion discards epochs more than one ahead of its own');
    assert.notEqual(datagram[0], 22, "an original member's accept filter opens a session only for handshake records");
  }
  assert.equal(ORIGINAL_KEEPALIVE.length, 14);
  assert.ok(!HELLO.equals(ORIGINAL_KEEPALIVE), 'a keepalive must not read as a hello, which means the sender is punching');
  assert.equal(pionSplits(Buffer.from('hello')), false, 'the plain hello is what killed original members');
});

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

    // Idle for twice the dead-peer interval: only keepalive records pion discards, and the session survives.
    await mesh.run(2 * FAST_TIMINGS.deadAfterMs);
    assert.ok(wire.length >= 4, 'keepalives flowed both ways');
    assert.ok(wire.every((d) => d.bytes.equals(ORIGINAL_KEEPALIVE)), 'idle traffic is the discarded keepalive record, never an (empty) application record');
    assert.ok(mesh.peerOf('alice', '192.168.50.2'), 'an original peer is not declared dead for sending no keepalives');

    await mesh.ping('alice', 'bob');
    const records = wire.filter((d) => d.bytes[0] === APPLICATION_DATA);
    assert.equal(records.length, 1, 'exactly the one packet, as one application-data record');

    // A packet whose record would not fit pion's 8,192-byte read buffer is dropped and counted.
    const alice = mesh.get('alice');
    alice.device.inject(ipPacket('192.168.50.1', '192.168.50.2', 'x'.repeat(8200)));
    await mesh.run(50);
    assert.equal(mesh.peerOf('alice', '192.168.50.2')?.drops.too_large_for_peer, 1);
    assert.ok(wire.every((d) => d.bytes.length <= 8192 && pionSplits(d.bytes)), 'every datagram alice sent splits into records pion can read');

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
