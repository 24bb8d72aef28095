// Two members claiming one VPN IP: the first keeps it, the conflict is logged once, and packets
// for that address keep going to the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withMesh } from './mesh';

test('when two members claim one VPN IP the first keeps it and the conflict is logged once', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    const eve = await mesh.addMember('eve', { vpnIp: '192.168.50.2', address: '192.0.2.30' });
    await mesh.run(800);
    const claimants = alice.member.status().peers.filter((p) => p.vpnIp === '192.168.50.2' && p.state === 'established');
    assert.equal(claimants.length, 1);
    assert.equal(claimants[0].outsideAddress, `192.0.2.20:${bob.transport.localEndpoint().port}`, 'bob, the first, keeps the address');
    const refused = alice.member.status().peers.find((p) => p.outsideAddress.startsWith('192.0.2.30'));
    assert.match(refused?.lastError ?? '', /already belongs to 192\.0\.2\.20/);
    assert.equal(alice.logs.count('two members claim one VPN IP'), 1, 'logged once, not per retry');
    await mesh.ping('alice', 'bob');
    assert.equal(eve.device.written.length, 0, 'eve received nothing meant for bob');
  });
});
