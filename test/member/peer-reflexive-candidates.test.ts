// Members behind NATs that map per destination (symmetric) or that a stray conntrack entry pushed
// onto another port: the port a `hello` or ClientHello really came from becomes a candidate path
// (ICE's peer-reflexive candidate); what still cannot connect says why in status, on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint } from '../../src/net/transport';
import { withMesh } from './mesh';

const HANDSHAKE = 22;

test('a member behind a symmetric NAT connects to a public member through the port its hello came from', async () => {
  await withMesh(async (mesh) => {
    // The public member's address sorts first, so it is the client and the symmetric one punches with hello.
    await mesh.addMember('pub', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    const nat = mesh.network.addNat({ publicAddress: '203.0.113.3', kind: 'symmetric' });
    await mesh.addMember('sym', { vpnIp: '192.168.50.3', address: '10.0.3.2', nat });
    const seenByPub = await mesh.waitEstablished('pub', '192.168.50.3');
    await mesh.waitEstablished('sym', '192.168.50.1');
    assert.match(seenByPub.endpoint, /^203\.0\.113\.3:/);
    assert.notEqual(seenByPub.endpoint, seenByPub.outsideAddress, 'the session runs on the port the hello came from, not the one the rolodex saw');
    await mesh.ping('pub', 'sym');
    await mesh.ping('sym', 'pub');
    assert.equal(mesh.get('pub').member.status().peers.length, 1, 'one entry for the peer, not a second one for its other port');
  });
});

test('a member behind a symmetric NAT as client is answered by a public member on the port its ClientHello came from, under its listed entry', async () => {
  await withMesh(async (mesh) => {
    // Here the symmetric member's address sorts first: it is the client, and its ClientHello leaves from a new port.
    const nat = mesh.network.addNat({ publicAddress: '192.0.2.3', kind: 'symmetric' });
    await mesh.addMember('sym', { vpnIp: '192.168.50.3', address: '10.0.3.2', nat });
    await mesh.addMember('pub', { vpnIp: '192.168.50.1', address: '203.0.113.10' });
    await mesh.waitEstablished('sym', '192.168.50.1');
    const seenByPub = await mesh.waitEstablished('pub', '192.168.50.3');
    assert.notEqual(seenByPub.endpoint, seenByPub.outsideAddress);
    await mesh.ping('pub', 'sym');
    const peers = mesh.get('pub').member.status().peers;
    assert.equal(peers.length, 1, `the listed entry took the session: ${JSON.stringify(peers)}`);
  });
});

test('a symmetric-NAT member connects to one behind an address-restricted cone NAT, which lets its new port in', async () => {
  await withMesh(async (mesh) => {
    const cone = mesh.network.addNat({ publicAddress: '203.0.113.1', filtering: 'address' });
    const symmetric = mesh.network.addNat({ publicAddress: '203.0.113.3', kind: 'symmetric' });
    await mesh.addMember('cone', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat: cone });
    await mesh.addMember('sym', { vpnIp: '192.168.50.3', address: '10.0.3.2', nat: symmetric });
    await mesh.waitEstablished('cone', '192.168.50.3');
    await mesh.waitEstablished('sym', '192.168.50.1');
    await mesh.ping('cone', 'sym');
    await mesh.ping('sym', 'cone');
  });
});

test('pairs that still cannot connect (symmetric with symmetric or a port-restricted cone) say why in status on both sides', async () => {
  await withMesh(async (mesh) => {
    const cone = mesh.network.addNat({ publicAddress: '203.0.113.1' });
    const first = mesh.network.addNat({ publicAddress: '203.0.113.3', kind: 'symmetric' });
    const second = mesh.network.addNat({ publicAddress: '203.0.113.4', kind: 'symmetric' });
    await mesh.addMember('cone', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat: cone });
    await mesh.addMember('sym1', { vpnIp: '192.168.50.3', address: '10.0.3.2', nat: first });
    await mesh.addMember('sym2', { vpnIp: '192.168.50.4', address: '10.0.4.2', nat: second });
    const explained = (name: string): string[] =>
      mesh
        .get(name)
        .member.status()
        .peers.map((peer) => `${peer.outsideAddress} ${peer.state} ${peer.lastError}`);
    const clientHint = /no answer to our ClientHello.* If it is, its NAT or ours may be symmetric/;
    const serverHint = /no handshake from the peer after \d+ hellos: its NAT or ours may be symmetric/;
    await mesh.until(
      'every member explains both of its peers',
      () => ['cone', 'sym1', 'sym2'].every((name) => explained(name).length === 2 && explained(name).every((line) => clientHint.test(line) || serverHint.test(line))),
      8000,
    );
    // Each pair: the member with the smaller outside address is the client, the other punches with hello.
    assert.ok(explained('cone').every((line) => clientHint.test(line)), explained('cone').join('\n'));
    assert.ok(explained('sym2').every((line) => serverHint.test(line)), explained('sym2').join('\n'));
    for (const name of ['cone', 'sym1', 'sym2']) assert.ok(explained(name).every((line) => !line.includes(' established ')), explained(name).join('\n'));
  });
});

// Bob below alice's outside address is the client (his early datagram is a ClientHello), above it the server (a hello).
for (const [bobAddress, bobRole] of [
  ['192.0.2.20', 'client'],
  ['203.0.113.20', 'server'],
] as const) {
  test(`a peer whose early datagram left a stray conntrack entry on our NAT, pushing us onto another port, still connects (the peer is the ${bobRole})`, async () => {
    await withMesh(async (mesh) => {
      const nat = mesh.network.addNat({ publicAddress: '203.0.113.1', strayEntries: true });
      const inside: Endpoint = { address: '10.0.1.2', port: 5000 };
      // Our datagrams to bob are held back until his first one has hit our NAT: his map came first.
      let bobKnocked = false;
      mesh.network.interceptor = (d) => {
        if (d.from.address === bobAddress && d.to.address === '203.0.113.1' && d.to.port !== 6264) bobKnocked = true;
        return d.from.address === inside.address && d.to.address === bobAddress && !bobKnocked ? null : d;
      };
      const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: inside.address, port: inside.port, nat });
      await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: bobAddress });
      const seenByBob = await mesh.waitEstablished('bob', '192.168.50.1');
      await mesh.waitEstablished('alice', '192.168.50.2');
      assert.ok(bobKnocked);
      const towardBob = nat.publicEndpointOf(inside, mesh.get('bob').transport.localEndpoint());
      assert.notEqual(`${towardBob?.address}:${towardBob?.port}`, alice.member.status().outsideAddress, 'the stray entry did push our mapping toward bob onto another port');
      assert.equal(seenByBob.endpoint, `${towardBob?.address}:${towardBob?.port}`);
      assert.equal(mesh.get('bob').member.status().peers.length, 1, 'bob has one entry for alice');
      await mesh.ping('alice', 'bob');
      await mesh.ping('bob', 'alice');
    });
  });
}

test('hellos from many spoofed ports of a peer we are connecting to start at most one candidate handshake per hello wait', async () => {
  await withMesh(async (mesh) => {
    const nat = mesh.network.addNat({ publicAddress: '203.0.113.3', kind: 'symmetric' });
    // Nothing of sym's own gets out, so only the forged hellos come from its IP.
    const forger = mesh.network.attach('192.0.2.66', 6666);
    const spoofedPorts = new Set<number>();
    const candidatePorts = new Set<number>();
    let symOutside: Endpoint | null = null;
    mesh.network.interceptor = (d) => {
      if (d.from.address === '10.0.3.2' && d.to.port !== 6264) return null;
      if (d.from.address === '192.0.2.66') return { ...d, from: { address: '203.0.113.3', port: 30000 + spoofedPorts.size } };
      if (d.from.address === '192.0.2.10' && d.to.address === '203.0.113.3' && d.data[0] === HANDSHAKE && d.to.port !== symOutside?.port) candidatePorts.add(d.to.port);
      return d;
    };
    const pub = await mesh.addMember('pub', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings: { helloWaitMs: 1000 } });
    const sym = await mesh.addMember('sym', { vpnIp: '192.168.50.3', address: '10.0.3.2', nat });
    await mesh.until('pub knows sym from a map', () => pub.member.status().peers.length === 1);
    symOutside = nat.publicEndpointOf(sym.transport.localEndpoint(), mesh.rolodexEndpoints[0]);
    const pubEndpoint = pub.transport.localEndpoint();
    for (let i = 0; i < 40; i++) {
      spoofedPorts.add(i);
      forger.send(Buffer.from('hello'), pubEndpoint.port, pubEndpoint.address);
      await mesh.run(5);
    }
    await mesh.run(100);
    assert.equal(candidatePorts.size, 1, `handshakes went to ${candidatePorts.size} spoofed ports`);
    assert.ok(pub.member.status().drops.unknown_source >= 35, 'the rest were dropped and counted');
    await forger.close();
  });
});

test('hellos from other ports of an established peer touch nothing', async () => {
  await withMesh(async (mesh) => {
    const [alice, bob] = await mesh.addPair();
    const forger = mesh.network.attach('192.0.2.66', 6666);
    let port = 30000;
    let handshakesToForged = 0;
    mesh.network.interceptor = (d) => {
      if (d.from.address === '192.0.2.66') return { ...d, from: { address: bob.transport.localEndpoint().address, port: port++ } };
      if (d.to.port >= 30000 && d.to.port < port && d.data[0] === HANDSHAKE) handshakesToForged++;
      return d;
    };
    const aliceEndpoint = alice.transport.localEndpoint();
    for (let i = 0; i < 20; i++) {
      forger.send(Buffer.from('hello'), aliceEndpoint.port, aliceEndpoint.address);
      await mesh.run(10);
    }
    assert.equal(handshakesToForged, 0);
    assert.equal(alice.logs.count('peer established'), 1);
    await mesh.ping('alice', 'bob');
    await forger.close();
  });
});
