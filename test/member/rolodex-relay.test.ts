// A rolodex started with `--relay` (docs/relays.md, "Through a rolodex") on the simulated network:
// two members behind symmetric NATs with no relay member connect through it, which forwards their
// own DTLS records; spent budgets refuse frames and are counted; a rolodex without --relay
// relays nothing and is sent no frame; an original member never receives one, nor is tried
// through it; a relay member, when there is one, is preferred, and a pair on the rolodex moves to
// one that comes up, without flapping when relay members come and go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InFlight } from '../../src/net/memory-network';
import { encodeHeartbeat } from '../../src/rolodex-wire';
import { decodeRolodexFrame, ROLODEX_FRAME_MAGIC } from '../../src/relay/rolodex-frame';
import type { RolodexOptions } from '../../rolodex/options';
import { FAST_ROLODEX, ipPacket, pairBehindBlockedNats, withMesh, type Mesh } from './mesh';

const ROLODEX = '198.51.100.1';
const RELAYING: Partial<RolodexOptions> = { ...FAST_ROLODEX, relay: true };
/** How long the original member is watched: the direct rounds toward it retry every 300 ms at most. */
const ORIGINAL_WATCH_MS = 180_000;
/**
 * A relay member draws a pair off the rolodex once it settled, 3 relayDeadMs (600 ms here) after
 * it offered itself; then a tick of the client (50 ms) and a handshake through it.
 */
const MOVE_BOUND_MS = 1_000;
/** Relay members come and go: each stays long enough to settle (600 ms), and is away as long. */
const FLAP_CYCLES = 10;
const FLAP_HALF_PERIOD_MS = 1_000;
/**
 * Each try to move is a move and, once that relay member leaves, a fall back: 2 changes. After
 * the first the tries wait 1.2, 2.4, 4.8, 9.6 s: at most 5 in these 20 s (one per cycle, with no
 * doubling, would be 20 changes).
 */
const MAX_FLAP_CHANGES = 10;

/** Two members behind their own symmetric NATs: no direct path between them, ever. */
async function symmetricPair(mesh: Mesh): Promise<void> {
  for (const [i, name] of ['sym1', 'sym2'].entries()) {
    const nat = mesh.network.addNat({ publicAddress: `203.0.113.${i + 1}`, kind: 'symmetric' });
    await mesh.addMember(name, { vpnIp: `192.168.50.${i + 1}`, address: `10.0.${i + 1}.2`, nat });
  }
}

/** Counts the relay frames to and from the rolodex, and their sizes, by watching every datagram. */
function watchFrames(mesh: Mesh): { toRolodex: number[]; fromRolodex: number[] } {
  const seen = { toRolodex: [] as number[], fromRolodex: [] as number[] };
  mesh.network.interceptor = (d: InFlight) => {
    if (d.data[0] === ROLODEX_FRAME_MAGIC && d.to.address === ROLODEX) seen.toRolodex.push(d.data.length);
    if (d.data[0] === ROLODEX_FRAME_MAGIC && d.from.address === ROLODEX) seen.fromRolodex.push(d.data.length);
    return d;
  };
  return seen;
}

test('two members behind symmetric NATs and no relay member connect through a rolodex started with --relay', async () => {
  await withMesh(async (mesh) => {
    const frames = watchFrames(mesh);
    await symmetricPair(mesh);
    const seen = await mesh.waitEstablished('sym1', '192.168.50.2', 5_000);
    await mesh.waitEstablished('sym2', '192.168.50.1', 1_000);
    assert.equal(seen.path, 'relay');
    assert.equal(seen.relay, `rolodex ${ROLODEX}:6264`);
    await mesh.ping('sym1', 'sym2');
    await mesh.ping('sym2', 'sym1');
    const stats = mesh.rolodexes[0].stats();
    assert.ok(stats.relayedFrames >= 4 && stats.relayedBytes > 0, JSON.stringify(stats));
    assert.equal(frames.fromRolodex.length, stats.relayedFrames, 'every frame the rolodex sent answers one it forwarded');
    // A deliver frame is its forward frame less the 12-byte cookie (IPv4 on both sides).
    assert.ok(Math.max(...frames.fromRolodex) <= Math.max(...frames.toRolodex) - 12);
    assert.deepEqual(Object.keys(stats.drops).filter((reason) => reason.startsWith('relay_')), []);
  }, RELAYING);
});

test('a pair that can punch, relayed through the rolodex first, moves to direct without dropping its session', async () => {
  await withMesh(async (mesh) => {
    const nats = await pairBehindBlockedNats(mesh);
    const relayed = await mesh.waitEstablished('a', '192.168.50.2', 5_000);
    assert.equal(relayed.relay, `rolodex ${ROLODEX}:6264`);
    nats.unblock();
    await mesh.until('a and b direct', () => mesh.peerOf('a', '192.168.50.2')?.path === 'direct' && mesh.peerOf('b', '192.168.50.1')?.path === 'direct', 3_000);
    const relayedBefore = mesh.rolodexes[0].stats().relayedFrames;
    await mesh.ping('a', 'b');
    await mesh.ping('b', 'a');
    assert.equal(mesh.rolodexes[0].stats().relayedFrames, relayedBefore, 'nothing more through the rolodex');
  }, RELAYING);
});

test('a rolodex that goes silent ends the paths through it', async () => {
  await withMesh(async (mesh) => {
    await symmetricPair(mesh);
    await mesh.waitEstablished('sym1', '192.168.50.2', 5_000);
    mesh.network.interceptor = (d) => (d.from.address === ROLODEX ? null : d);
    await mesh.until('the relayed session to end', () => mesh.peerOf('sym1', '192.168.50.2') === undefined, 1_000);
    const lost = mesh.get('sym1').logs.lines.find((line) => line.message === 'relay lost');
    assert.equal(lost?.relay, `rolodex ${ROLODEX}:6264`);
  }, RELAYING);
});

test('a rolodex without --relay is sent no frame and relays nothing: the symmetric pair stays apart', async () => {
  await withMesh(async (mesh) => {
    const frames = watchFrames(mesh);
    await symmetricPair(mesh);
    await mesh.run(3_000);
    assert.equal(mesh.peerOf('sym1', '192.168.50.2'), undefined);
    assert.equal(mesh.peerOf('sym2', '192.168.50.1'), undefined);
    assert.deepEqual(frames, { toRolodex: [], fromRolodex: [] });
    assert.equal(mesh.rolodexes[0].stats().relayedFrames, 0);
  });
});

test('over its endpoint budget a member\'s frames are refused and counted, and it recovers as the budget refills', async () => {
  await withMesh(async (mesh) => {
    await symmetricPair(mesh);
    await mesh.waitEstablished('sym1', '192.168.50.2', 5_000);
    await mesh.waitEstablished('sym2', '192.168.50.1', 1_000);
    const big = ipPacket('192.168.50.1', '192.168.50.2', 'x'.repeat(1_000));
    for (let i = 0; i < 20; i++) mesh.get('sym1').device.inject(big);
    await mesh.settle();
    const drops = mesh.rolodexes[0].stats().drops;
    assert.ok((drops.relay_endpoint_budget ?? 0) > 0, JSON.stringify(drops));
    await mesh.run(2_000);
    await mesh.ping('sym1', 'sym2');
  }, { ...RELAYING, relayEndpointBytesPerSecond: 4_096 });
});

test('over its network budget the network\'s frames are refused and counted', async () => {
  await withMesh(async (mesh) => {
    await symmetricPair(mesh);
    await mesh.waitEstablished('sym1', '192.168.50.2', 5_000);
    await mesh.waitEstablished('sym2', '192.168.50.1', 1_000);
    const big = ipPacket('192.168.50.2', '192.168.50.1', 'x'.repeat(1_000));
    for (let i = 0; i < 20; i++) mesh.get('sym2').device.inject(big);
    await mesh.settle();
    const stats = mesh.rolodexes[0].stats();
    assert.ok((stats.drops.relay_network_budget ?? 0) > 0, JSON.stringify(stats.drops));
    assert.equal(stats.drops.relay_endpoint_budget, undefined);
  }, { ...RELAYING, relayNetworkBytesPerSecond: 4_096 });
});

test('an original member is never sent a relay frame, nor told that the rolodex relays', async () => {
  await withMesh(async (mesh) => {
    const fromRolodex: Buffer[] = [];
    const original = mesh.network.attach('192.0.2.5', 4000);
    original.onMessage((data, from) => {
      if (from.address === ROLODEX) fromRolodex.push(Buffer.from(data));
    });
    const beat = (): void => original.send(encodeHeartbeat({ networkName: 'testnet', local: [], meshboi: false }), 6264, ROLODEX);
    beat();
    await symmetricPair(mesh);
    for (let i = 0; i < 20; i++) {
      await mesh.run(100);
      beat();
    }
    await mesh.waitEstablished('sym1', '192.168.50.2', 1_000);
    assert.ok(fromRolodex.length > 0, 'the original member got its maps');
    for (const data of fromRolodex) {
      assert.equal(data[0], '{'.charCodeAt(0), 'nothing but maps');
      assert.doesNotMatch(data.toString(), /Meshboi|Relay/);
    }
    // The maps never put it in RelayTo, so our members never try it through the rolodex.
    assert.equal(mesh.rolodexes[0].stats().drops.relay_no_route, undefined);
    await original.close();
  }, RELAYING);
});

test('with a relay member in the network the rolodex relays nothing', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    await symmetricPair(mesh);
    const seen = await mesh.waitEstablished('sym1', '192.168.50.2', 5_000);
    assert.equal(seen.relay, '192.168.50.9');
    await mesh.ping('sym1', 'sym2');
    assert.equal(mesh.rolodexes[0].stats().relayedFrames, 0);
  }, RELAYING);
});

test('a member started with --no-relays neither asks the rolodex to relay nor is relayed to', async () => {
  await withMesh(async (mesh) => {
    const frames = watchFrames(mesh);
    const nat = mesh.network.addNat({ publicAddress: '203.0.113.1', kind: 'symmetric' });
    await mesh.addMember('sym1', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat });
    const other = mesh.network.addNat({ publicAddress: '203.0.113.2', kind: 'symmetric' });
    await mesh.addMember('sym2', { vpnIp: '192.168.50.2', address: '10.0.2.2', nat: other, useRelays: false });
    await mesh.run(3_000);
    assert.equal(mesh.peerOf('sym1', '192.168.50.2'), undefined);
    assert.deepEqual(frames, { toRolodex: [], fromRolodex: [] }, 'sym1 never tries a peer the maps do not say the rolodex relays to');
    assert.equal(mesh.rolodexes[0].stats().drops.relay_no_route, undefined);
  }, RELAYING);
});

test('an original member that cannot be reached directly is never tried through the rolodex, while a pair of ours is', async () => {
  await withMesh(async (mesh) => {
    const framesToward = new Map<string, number>();
    mesh.network.interceptor = (d: InFlight) => {
      if (d.data[0] === ROLODEX_FRAME_MAGIC && d.to.address === ROLODEX) {
        const frame = decodeRolodexFrame(d.data);
        if (frame.type === 'forward') framesToward.set(frame.peer.address, (framesToward.get(frame.peer.address) ?? 0) + 1);
      }
      return d;
    };
    await symmetricPair(mesh);
    const nat = mesh.network.addNat({ publicAddress: '203.0.113.5', kind: 'symmetric' });
    await mesh.addMember('original', { vpnIp: '192.168.50.5', address: '10.0.5.2', nat, announceMeshboi: false });
    const seen = await mesh.waitEstablished('sym1', '192.168.50.2', 5_000);
    assert.equal(seen.relay, `rolodex ${ROLODEX}:6264`);
    // Three minutes: with these timings hundreds of direct rounds toward the original member.
    await mesh.run(ORIGINAL_WATCH_MS);
    await mesh.ping('sym1', 'sym2');
    assert.equal(mesh.peerOf('sym1', '192.168.50.5'), undefined, 'the original member stays unreachable');
    assert.equal(framesToward.get('203.0.113.5'), undefined, 'no frame toward the original member');
    assert.ok((framesToward.get('203.0.113.2') ?? 0) > 0, 'frames toward our own peer');
    assert.equal(mesh.rolodexes[0].stats().drops.relay_no_route, undefined);
  }, RELAYING);
});

test('a pair on the rolodex moves to a relay member that comes up, without a gap, and later to direct', async () => {
  await withMesh(async (mesh) => {
    const nats = await pairBehindBlockedNats(mesh);
    const relayed = await mesh.waitEstablished('a', '192.168.50.2', 5_000);
    assert.equal(relayed.relay, `rolodex ${ROLODEX}:6264`);
    await mesh.waitEstablished('b', '192.168.50.1', 1_000);
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    const joinedAt = mesh.clock.now();
    // Step by step, a packet each way every 10 ms: neither side is ever without its session to the
    // other, and none is lost.
    const [a, b] = [mesh.get('a'), mesh.get('b')];
    const written = { a: a.device.written.length, b: b.device.written.length };
    let sent = 0;
    while (!['a', 'b'].every((name) => mesh.peerOf(name, name === 'a' ? '192.168.50.2' : '192.168.50.1')?.relay === '192.168.50.9')) {
      assert.ok(mesh.clock.now() - joinedAt < MOVE_BOUND_MS, `not on the relay member ${MOVE_BOUND_MS} ms after it joined`);
      assert.ok(mesh.peerOf('a', '192.168.50.2') && mesh.peerOf('b', '192.168.50.1'), 'the session stands during the move');
      a.device.inject(ipPacket('192.168.50.1', '192.168.50.2', `a->b ${sent}`));
      b.device.inject(ipPacket('192.168.50.2', '192.168.50.1', `b->a ${sent}`));
      sent++;
      await mesh.run(10);
    }
    const movedInMs = mesh.clock.now() - joinedAt;
    await mesh.run(100);
    const lost = { toB: sent - (b.device.written.length - written.b), toA: sent - (a.device.written.length - written.a) };
    process.stdout.write(`# moved to the relay member ${movedInMs} ms (simulated) after it joined; of ${sent} packets each way lost ${JSON.stringify(lost)}\n`);
    // The in-memory network delivers within a step, so nothing is in flight through the rolodex at the move.
    assert.deepEqual(lost, { toB: 0, toA: 0 });
    const relayedFrames = mesh.rolodexes[0].stats().relayedFrames;
    await mesh.ping('a', 'b');
    await mesh.ping('b', 'a');
    assert.equal(mesh.rolodexes[0].stats().relayedFrames, relayedFrames, 'nothing more through the rolodex');
    nats.unblock();
    await mesh.until('a and b direct', () => mesh.peerOf('a', '192.168.50.2')?.path === 'direct' && mesh.peerOf('b', '192.168.50.1')?.path === 'direct', 3_000);
    await mesh.ping('a', 'b');
  }, RELAYING);
});

test('relay members that come and go move a pair on the rolodex a bounded number of times', async () => {
  await withMesh(async (mesh) => {
    await pairBehindBlockedNats(mesh);
    await mesh.waitEstablished('a', '192.168.50.2', 5_000);
    const sessionChanges = (): number =>
      mesh.get('a').logs.lines.filter((line) => line.vpnIp === '192.168.50.2' && (line.message === 'peer established' || String(line.message).startsWith('peer moved'))).length;
    const before = sessionChanges();
    for (let i = 0; i < FLAP_CYCLES; i++) {
      await mesh.addMember(`relay${i}`, { vpnIp: `192.168.50.${10 + i}`, address: `192.0.2.${10 + i}`, relay: true });
      await mesh.run(FLAP_HALF_PERIOD_MS);
      await mesh.stopMember(`relay${i}`);
      await mesh.run(FLAP_HALF_PERIOD_MS);
    }
    const changes = sessionChanges() - before;
    process.stdout.write(`# ${changes} session changes in ${FLAP_CYCLES} joins and leaves of a relay member\n`);
    assert.ok(changes <= MAX_FLAP_CHANGES, `${changes} session changes`);
    await mesh.until('a established with b again', () => mesh.peerOf('a', '192.168.50.2') !== undefined, 5_000);
    await mesh.ping('a', 'b');
  }, RELAYING);
});
