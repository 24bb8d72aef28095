// The link mode each member declares in peer-info: a network is all TUN or all TAP, so members of
// different modes refuse each other, each saying why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withMesh } from './mesh';

test('a member of the other mode (TAP against TUN) is refused on both sides with the reason', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', mode: 'tap' });
    const refused = (name: string) => mesh.get(name).logs.lines.find((line) => line.message === 'refused a peer of the other mode');
    await mesh.until('both refuse', () => refused('alice') !== undefined && refused('bob') !== undefined);
    assert.match(String(refused('alice')!.reason), /the peer is a TAP member and we are a TUN one/);
    assert.match(String(refused('bob')!.reason), /the peer is a TUN member and we are a TAP one/);
    const bobSeen = mesh.get('alice').member.status().peers.find((peer) => peer.outsideAddress.startsWith('192.0.2.20'));
    assert.match(bobSeen?.lastError ?? '', /all TUN or all TAP/);
    assert.equal(mesh.peerOf('alice', '192.168.50.2'), undefined);
  });
});
