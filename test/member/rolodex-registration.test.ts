// The member's rolodex client against the real rolodex server: registration with every
// rolodex, merged maps with LAN endpoints, our outside address, and an outage logged once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RolodexServer } from '../../rolodex/server';
import { ManualClock } from '../../src/clock';
import { MemoryNetwork } from '../../src/net/memory-network';
import { formatEndpoint } from '../../src/net/transport';
import { RolodexClient, type Listing } from '../../src/member/rolodex-client';
import { TimerSet } from '../../src/member/timers';
import { activeHandles, assertNoLeaks, capturedLogger } from './harness';
import { withMesh } from './mesh';
import { Simulation } from '../support/simulation';

const FAST_ROLODEX = { mapIntervalMs: 40, forgetAfterMs: 400, joinFlushMs: 0, summaryIntervalMs: 0 };

test('a member registers with every rolodex, merges their maps and logs an outage once and its end once', async () => {
  const before = activeHandles();
  const simulation = new Simulation();
  const { network, clock } = simulation;
  const first = new RolodexServer(network.attach('198.51.100.1', 6264), FAST_ROLODEX, clock);
  const second = new RolodexServer(network.attach('198.51.100.2', 6264), FAST_ROLODEX, clock);
  first.start();
  second.start();
  const timers = new TimerSet(clock);
  try {
    const { log, capture } = capturedLogger();
    const listings: Listing[] = [];
    const aliceSocket = network.attach('192.0.2.10', 4000);
    const bobSocket = network.attach('192.0.2.20', 5000);
    const timings = { heartbeatMs: 30, silentAfterMs: 400 };
    const alice = new RolodexClient(
      aliceSocket,
      'net',
      [{ address: '198.51.100.1', port: 6264 }, { address: '198.51.100.2', port: 6264 }],
      [],
      timings,
      timers,
      { onListed: (listing) => listings.push(listing), onGone: () => {} },
      log,
    );
    const bob = new RolodexClient(
      bobSocket,
      'net',
      [{ address: '198.51.100.2', port: 6264 }],
      [{ address: '10.9.0.20', port: 5000 }],
      timings,
      timers,
      { onListed: () => {}, onGone: () => {} },
      capturedLogger().log,
    );
    aliceSocket.onMessage((data, from) => alice.receive(data, from));
    bobSocket.onMessage((data, from) => bob.receive(data, from));
    alice.start();
    bob.start();

    await simulation.until('alice hears of bob with his LAN endpoint', () => listings.some((l) => formatEndpoint(l.outside) === '192.0.2.20:5000' && l.locals?.length === 1));
    assert.equal(formatEndpoint(listings.find((l) => l.locals?.length === 1)!.locals![0]), '10.9.0.20:5000');
    assert.equal(alice.outsideAddress() && formatEndpoint(alice.outsideAddress()!), '192.0.2.10:4000');
    assert.equal(first.stats().members, 1);
    assert.equal(second.stats().members, 2);
    assert.deepEqual(alice.status(clock.now()).map((r) => r.reachable), [true, true]);

    // Counted for the first rolodex only, the one the test takes down.
    const about = (message: RegExp): number => capture.lines.filter((l) => l.rolodex === '198.51.100.1:6264' && message.test(String(l.message))).length;
    const silentBefore = about(/went silent/);
    const answersBefore = about(/^rolodex answers$/);
    network.interceptor = (d) => (d.from.address === '198.51.100.1' || d.to.address === '198.51.100.1' ? null : d);
    await simulation.until('the outage is noticed', () => about(/went silent/) > silentBefore);
    await simulation.run(500);
    assert.equal(about(/went silent/), silentBefore + 1, 'the outage is logged once');
    assert.equal(alice.status(clock.now())[0].reachable, false);

    network.interceptor = (d) => d;
    await simulation.until('the rolodex is back', () => about(/^rolodex answers$/) > answersBefore);
    await simulation.run(150);
    assert.equal(about(/^rolodex answers$/), answersBefore + 1, 'the recovery is logged once');
    assert.equal(about(/went silent/), silentBefore + 1);
  } finally {
    timers.clear();
    await first.stop();
    await second.stop();
  }
  assert.equal(timers.size, 0);
  simulation.assertNoTimersLeft();
  await assertNoLeaks(before);
});

test('a datagram from a rolodex that is not a map is counted and changes nothing', async () => {
  const network = new MemoryNetwork();
  const timers = new TimerSet(new ManualClock());
  const socket = network.attach('192.0.2.10', 4000);
  const listings: Listing[] = [];
  const client = new RolodexClient(socket, 'net', [{ address: '198.51.100.1', port: 6264 }], [], { heartbeatMs: 1000, silentAfterMs: 3000 }, timers, {
    onListed: (listing) => listings.push(listing),
    onGone: () => {},
  }, capturedLogger().log);
  assert.equal(client.receive(Buffer.from('{"Addresses":["1.2.3.4:5"],"YourIndex":7}'), { address: '198.51.100.1', port: 6264 }), true);
  assert.equal(client.receive(Buffer.from('{}'), { address: '198.51.100.9', port: 6264 }), false, 'not from a rolodex');
  assert.equal(client.malformed, 1);
  assert.equal(client.lastMapAt, null);
  assert.deepEqual(listings, []);
  timers.clear();
});

test('members echo the rolodex cookie, which proves they receive at their address', async () => {
  await withMesh(async (mesh) => {
    await mesh.addPair();
    await mesh.until('both members verified', () => mesh.rolodexes[0].stats().verifications >= 2);
  });
});
