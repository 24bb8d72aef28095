// Two of our members behind one NAT that does not hairpin (as Linux masquerade) reach each
// other through the LAN endpoints they advertise in the heartbeat extension.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { withMesh } from './mesh';

test('two members behind one non-hairpinning NAT connect through their LAN endpoints, and a third reaches both', async () => {
  await withMesh(async (mesh) => {
    const office = mesh.network.addNat({ publicAddress: '203.0.113.1', hairpin: false });
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '10.0.0.2', nat: office, advertiseLocal: true });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '10.0.0.3', nat: office, advertiseLocal: true });
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30' });
    const bobAsSeen = await mesh.waitEstablished('alice', '192.168.50.2');
    const aliceAsSeen = await mesh.waitEstablished('bob', '192.168.50.1');
    assert.match(bobAsSeen.endpoint, /^10\.0\.0\.3:/, 'alice talks to bob on the LAN');
    assert.match(bobAsSeen.outsideAddress, /^203\.0\.113\.1:/, 'while the map lists his outside address');
    assert.match(aliceAsSeen.endpoint, /^10\.0\.0\.2:/);
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    for (const name of ['alice', 'bob']) {
      const carolAsSeen = await mesh.waitEstablished(name, '192.168.50.3');
      assert.equal(carolAsSeen.endpoint, carolAsSeen.outsideAddress);
      await mesh.ping(name, 'carol');
      await mesh.ping('carol', name);
    }
    assert.ok(office.filtered > 0, 'the NAT did refuse the hairpin through its public address');
  });
});
