// The in-memory network's NAT boxes (mapping, filtering, stray conntrack entries) and stepping, which the member's punching tests rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock';
import { MemoryNetwork, type Nat, type NatOptions } from '../../src/net/memory-network';
import type { Endpoint } from '../../src/net/transport';
import { formatEndpoint } from '../../src/net/transport';

/** A network in manual mode (datagrams move on step()) with one NAT. */
function steppedNat(options: NatOptions): { network: MemoryNetwork; nat: Nat } {
  const network = new MemoryNetwork();
  network.manual = true;
  return { network, nat: network.addNat(options) };
}

function inbox(transport: { onMessage(handler: (data: Buffer, from: Endpoint) => void): void }): string[] {
  const seen: string[] = [];
  transport.onMessage((data, from) => seen.push(`${data.toString()} from ${formatEndpoint(from)}`));
  return seen;
}

test('a NAT rewrites the source and lets in only replies from endpoints the inside host contacted', async () => {
  const { network, nat } = steppedNat({ publicAddress: '203.0.113.1' });
  const inner = nat.attach('10.0.0.2', 5000);
  const server = network.attach('198.51.100.1', 6264);
  const stranger = network.attach('198.51.100.2', 7000);
  const innerSeen = inbox(inner);
  const serverSeen = inbox(server);

  stranger.send(Buffer.from('unsolicited'), 20000, '203.0.113.1');
  inner.send(Buffer.from('ping'), 6264, '198.51.100.1');
  network.step(10);
  assert.deepEqual(serverSeen, ['ping from 203.0.113.1:20000']);

  server.send(Buffer.from('pong'), 20000, '203.0.113.1');
  stranger.send(Buffer.from('still unsolicited'), 20000, '203.0.113.1');
  stranger.send(Buffer.from('to a private address'), 5000, '10.0.0.2');
  network.step(10);
  assert.deepEqual(innerSeen, ['pong from 198.51.100.1:6264']);
  assert.equal(nat.filtered, 3);
});

test('an endpoint-independent NAT keeps one outside port per socket, a symmetric one takes a port per destination', () => {
  const network = new MemoryNetwork();
  const cone = network.addNat({ publicAddress: '203.0.113.1' });
  const symmetric = network.addNat({ publicAddress: '203.0.113.2', kind: 'symmetric' });
  const a = { address: '10.0.0.2', port: 5000 };
  const b = { address: '10.0.1.2', port: 5000 };
  const one = { address: '198.51.100.1', port: 1 };
  const two = { address: '198.51.100.2', port: 2 };
  assert.deepEqual(cone.outbound(a, one), cone.outbound(a, two));
  assert.notDeepEqual(symmetric.outbound(b, one), symmetric.outbound(b, two));
});

test('two hosts behind one NAT reach each other on the LAN, and through the public address only when it hairpins', () => {
  for (const hairpin of [false, true]) {
    const { network, nat } = steppedNat({ publicAddress: '203.0.113.1', hairpin });
    const a = nat.attach('10.0.0.2', 5000);
    const b = nat.attach('10.0.0.3', 5000);
    const remote = network.attach('198.51.100.1', 6264);
    const bSeen = inbox(b);
    inbox(remote);
    a.send(Buffer.from('x'), 6264, '198.51.100.1');
    b.send(Buffer.from('x'), 6264, '198.51.100.1');
    network.step(10);
    const aPublic = nat.publicEndpointOf({ address: '10.0.0.2', port: 5000 }, { address: '198.51.100.1', port: 6264 });
    const bPublic = nat.publicEndpointOf({ address: '10.0.0.3', port: 5000 }, { address: '198.51.100.1', port: 6264 });
    assert.ok(aPublic && bPublic);
    a.send(Buffer.from('lan'), 5000, '10.0.0.3');
    // b opens its filter toward a's public mapping first, as punching does.
    b.send(Buffer.from('open'), aPublic.port, aPublic.address);
    a.send(Buffer.from('hairpin'), bPublic.port, bPublic.address);
    network.step(10);
    const expected = ['lan from 10.0.0.2:5000'];
    if (hairpin) expected.push(`hairpin from ${formatEndpoint(aPublic)}`);
    assert.deepEqual(bSeen, expected, `hairpin ${hairpin}`);
  }
});

test('manual mode holds datagrams until stepped, in any order, and can discard some', () => {
  const network = new MemoryNetwork();
  network.manual = true;
  const a = network.attach('192.0.2.1', 1);
  const b = network.attach('192.0.2.2', 2);
  const seen = inbox(b);
  for (const word of ['one', 'two', 'three']) a.send(Buffer.from(word), 2, '192.0.2.2');
  assert.equal(network.queued.length, 3);
  assert.equal(network.step(1, (d) => d.data.toString() === 'three'), 1);
  assert.equal(network.discard((d) => d.data.toString() === 'one'), 1);
  network.step(10);
  assert.deepEqual(seen, ['three from 192.0.2.1:1', 'two from 192.0.2.1:1']);
  assert.equal(network.queued.length, 0);
});

test('an address-restricted NAT lets in any port of an address the inside host sent to; a port-restricted one only that endpoint', () => {
  for (const filtering of ['address', 'address-and-port'] as const) {
    const { network, nat } = steppedNat({ publicAddress: '203.0.113.1', filtering });
    const inner = nat.attach('10.0.0.2', 5000);
    const seen = inbox(inner);
    network.attach('198.51.100.1', 6264);
    inner.send(Buffer.from('out'), 6264, '198.51.100.1');
    network.step(10);
    network.attach('198.51.100.1', 7000).send(Buffer.from('from another port'), 20000, '203.0.113.1');
    network.step(10);
    assert.deepEqual(seen, filtering === 'address' ? ['from another port from 198.51.100.1:7000'] : [], filtering);
  }
});

test('with stray entries, an unsolicited datagram pushes the inside host onto another port toward its sender only', () => {
  const { network, nat } = steppedNat({ publicAddress: '203.0.113.1', strayEntries: true });
  const inner = nat.attach('10.0.0.2', 5000);
  const rolodex = network.attach('198.51.100.1', 6264);
  const early = network.attach('198.51.100.2', 7000);
  const seenByEarly = inbox(early);
  const innerSeen = inbox(inner);
  inbox(rolodex);
  inner.send(Buffer.from('register'), 6264, '198.51.100.1');
  network.step(10);
  early.send(Buffer.from('too early'), 20000, '203.0.113.1');
  network.step(10);
  assert.deepEqual(innerSeen, [], 'unsolicited, so filtered');
  inner.send(Buffer.from('hello'), 7000, '198.51.100.2');
  inner.send(Buffer.from('again'), 6264, '198.51.100.1');
  network.step(10);
  assert.deepEqual(seenByEarly, ['hello from 203.0.113.1:20001'], 'the stray entry holds port 20000 toward this sender');
  assert.deepEqual(nat.publicEndpointOf({ address: '10.0.0.2', port: 5000 }, { address: '198.51.100.1', port: 6264 }), { address: '203.0.113.1', port: 20000 });
  early.send(Buffer.from('reply'), 20001, '203.0.113.1');
  network.step(10);
  assert.deepEqual(innerSeen, ['reply from 198.51.100.2:7000']);
});

test('a datagram whose TTL runs out past its NAT opens the mapping without reaching the peer NAT, and leaves no stray entry there', () => {
  const network = new MemoryNetwork();
  network.manual = true;
  const ours = network.addNat({ publicAddress: '203.0.113.1', transit: 1 });
  const theirs = network.addNat({ publicAddress: '203.0.113.2', strayEntries: true, transit: 1 });
  const a = ours.attach('10.0.1.2', 5000);
  const b = theirs.attach('10.0.2.2', 5000);
  const aSeen = inbox(a);
  inbox(b);
  const bOutside = theirs.outbound({ address: '10.0.2.2', port: 5000 }, { address: '203.0.113.1', port: 20000 });
  a.send(Buffer.from('dies'), bOutside.port, bOutside.address, 2);
  network.step(10);
  assert.equal(network.expired, 1);
  assert.deepEqual(theirs.strayEntriesNow(), []);
  b.send(Buffer.from('through'), 20000, '203.0.113.1');
  network.step(10);
  assert.deepEqual(aSeen, [`through from ${formatEndpoint(bOutside)}`], 'the opening datagram opened our NAT toward the peer');
  // Three routers between the hosts' NATs and the peer's inside host need TTL 5.
  a.send(Buffer.from('four'), bOutside.port, bOutside.address, 4);
  a.send(Buffer.from('five'), bOutside.port, bOutside.address, 5);
  network.step(10);
  assert.equal(network.expired, 2);
});

test('stray entries and the mappings they forced expire after the timeout on the network clock', () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  network.manual = true;
  const nat = network.addNat({ publicAddress: '203.0.113.1', strayEntries: true, strayTimeoutMs: 30_000 });
  const inner = nat.attach('10.0.0.2', 5000);
  const peer = network.attach('198.51.100.2', 7000);
  const seenByPeer = inbox(peer);
  inbox(inner);
  inner.send(Buffer.from('register'), 6264, '198.51.100.1');
  peer.send(Buffer.from('early'), 20000, '203.0.113.1');
  network.step(10);
  inner.send(Buffer.from('forced'), 7000, '198.51.100.2');
  network.step(10);
  clock.advance(30_001);
  assert.deepEqual(nat.strayEntriesNow(), []);
  inner.send(Buffer.from('after'), 7000, '198.51.100.2');
  network.step(10);
  assert.deepEqual(seenByPeer, ['forced from 203.0.113.1:20001', 'after from 203.0.113.1:20000']);
});
