// Two or three members meet through the real rolodex and real DTLS on the in-memory network,
// behind simulated NATs, and carry packets both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { withMesh } from './mesh';

test('two members on public addresses connect and carry packets both ways', async () => {
  await withMesh(async (mesh) => {
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
  });
});

test('three members, each behind its own NAT that drops unsolicited datagrams, punch through and form a full mesh', async () => {
  await withMesh(async (mesh) => {
    const names = ['alice', 'bob', 'carol'];
    for (const [i, name] of names.entries()) {
      const nat = mesh.network.addNat({ publicAddress: `203.0.113.${i + 1}` });
      await mesh.addMember(name, { vpnIp: `192.168.50.${i + 1}`, address: `10.0.${i}.2`, nat });
    }
    for (const name of names) {
      for (const [j, other] of names.entries()) if (other !== name) await mesh.waitEstablished(name, `192.168.50.${j + 1}`);
    }
    for (const from of names) for (const to of names) if (from !== to) await mesh.ping(from, to);
    const natFiltered = mesh.network.dropped;
    assert.ok(natFiltered > 0, 'the NATs did refuse unsolicited datagrams along the way');
  });
});

test('a peer that cannot be reached never delays the others', async () => {
  await withMesh(async (mesh) => {
    // Carol sits behind a symmetric NAT: her mapping toward each peer differs from the one the
    // rolodex saw, so nobody can punch through to her.
    const carolNat = mesh.network.addNat({ publicAddress: '203.0.113.3', kind: 'symmetric' });
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '10.0.3.2', nat: carolNat });
    const aliceNat = mesh.network.addNat({ publicAddress: '203.0.113.1' });
    const bobNat = mesh.network.addNat({ publicAddress: '203.0.113.2' });
    // A first round toward carol lasts 40 ms * (1 + 2 + ... + 32), about 2.5 s, before it fails.
    const patient = { handshakeMaxTries: 6 };
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat: aliceNat, timings: patient });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '10.0.2.2', nat: bobNat, timings: patient });
    await mesh.waitEstablished('alice', '192.168.50.2');
    const carolAsSeen = mesh.get('alice').member.status().peers.find((p) => p.outsideAddress.startsWith('203.0.113.3'));
    assert.ok(carolAsSeen, 'alice knows carol from the map');
    assert.equal(carolAsSeen.state, 'handshaking', 'bob was reached while the first attempt toward carol was still under way');
    assert.equal(carolAsSeen.lastError, null);
    await mesh.waitEstablished('bob', '192.168.50.1');
    await mesh.ping('alice', 'bob');
    assert.equal(mesh.get('carol').member.status().peers.filter((p) => p.state === 'established').length, 0);
  });
});
