// The rolodex's relay (`--relay`, rolodex/relay.ts) in-process on the in-memory network and a
// stepped clock: what it forwards (only between cookie-verified members of one network that take
// relay frames, a deliver frame no larger than the forward frame, nothing unasked), what it
// refuses and counts, its budgets per endpoint and per network, that a member's proof renewed
// with new cookies (echoed, or carried by its frames) never lapses, and that it is off by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEndpoint, type Endpoint } from '../../src/net/transport';
import type { MemoryTransport } from '../../src/net/memory-network';
import { decodeMap, encodeHeartbeat } from '../../src/rolodex-wire';
import { COOKIE_BYTES, decodeRolodexFrame, encodeRolodexFrame, isRolodexFrame, type RolodexFrame } from '../../src/relay/rolodex-frame';
import { RolodexServer } from '../../rolodex/server';
import { resolveOptions, type RolodexOptions } from '../../rolodex/options';
import { Simulation } from '../support/simulation';

const ROLODEX: Endpoint = { address: '192.0.2.1', port: 6264 };
const FORGET_AFTER_MS = 2_000;
const FAST: Partial<RolodexOptions> = { mapIntervalMs: 200, forgetAfterMs: FORGET_AFTER_MS, summaryIntervalMs: 0, joinFlushMs: 0, relay: true };

/** A member as the rolodex sees it: heartbeats (saying it takes relay frames), its cookie, and the frames it was sent. */
class RawMember {
  cookie: string | undefined;
  /** The rolodex said, beside a cookie, that it relays. */
  toldRelay = false;
  readonly frames: RolodexFrame[] = [];
  readonly frameSizes: number[] = [];
  /** Echo a new cookie in a heartbeat at once, as our members do. */
  echoesAtOnce = false;

  constructor(readonly transport: MemoryTransport, readonly network = 'net', readonly takesRelay = true, readonly extended = true) {
    transport.onMessage((data) => {
      if (isRolodexFrame(data)) {
        this.frames.push(decodeRolodexFrame(Buffer.from(data)));
        this.frameSizes.push(data.length);
        return;
      }
      const map = decodeMap(data);
      assert.ok(map.ok);
      if (map.value.cookie === undefined) return;
      const fresh = map.value.cookie !== this.cookie;
      this.cookie = map.value.cookie;
      this.toldRelay = map.value.relay === true;
      if (fresh && this.echoesAtOnce) this.heartbeat();
    });
  }

  get endpoint(): Endpoint {
    return this.transport.localEndpoint();
  }

  heartbeat(): void {
    const beat = { networkName: this.network, local: [], meshboi: this.extended, ...(this.cookie ? { cookie: this.cookie } : {}), ...(this.takesRelay ? { relay: true } : {}) };
    this.transport.send(encodeHeartbeat(beat), ROLODEX.port, ROLODEX.address);
  }

  forward(to: Endpoint, payload: Buffer, cookie = this.cookieBytes()): number {
    const frame = encodeRolodexFrame({ type: 'forward', cookie, peer: to, payload });
    this.transport.send(frame, ROLODEX.port, ROLODEX.address);
    return frame.length;
  }

  cookieBytes(): Buffer {
    return this.cookie ? Buffer.from(this.cookie, 'base64url') : Buffer.alloc(COOKIE_BYTES);
  }
}

async function withRelayingRolodex(options: Partial<RolodexOptions>, body: (sim: Simulation, server: RolodexServer) => Promise<void>): Promise<void> {
  const sim = new Simulation();
  const server = new RolodexServer(sim.network.attach(ROLODEX.address, ROLODEX.port), { ...FAST, ...options }, sim.clock);
  server.start();
  try {
    await body(sim, server);
  } finally {
    await server.stop();
  }
  sim.assertNoTimersLeft();
}

/** Registers each member and echoes its cookie, as our members do. */
async function join(sim: Simulation, ...members: RawMember[]): Promise<void> {
  for (const member of members) member.heartbeat();
  await sim.run(10);
  for (const member of members) member.heartbeat();
  await sim.run(10);
}

function attach(sim: Simulation, address: string, network = 'net', takesRelay = true, extended = true): RawMember {
  return new RawMember(sim.network.attach(address, 40_000), network, takesRelay, extended);
}

test('it forwards between verified members of one network: the deliver frame names the sender and is the forward frame less the cookie', async () => {
  await withRelayingRolodex({}, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    await join(sim, a, b);
    assert.ok(a.toldRelay && b.toldRelay, 'the cookie datagram said the rolodex relays');
    const sent = a.forward(b.endpoint, Buffer.from('a record of their own session'));
    await sim.settle();
    assert.deepEqual(b.frames, [{ type: 'deliver', peer: a.endpoint, payload: Buffer.from('a record of their own session') }]);
    assert.equal(b.frameSizes[0], sent - COOKIE_BYTES);
    assert.equal(a.frames.length, 0, 'the sender hears nothing back');
    const stats = server.stats();
    assert.equal(stats.relayedFrames, 1);
    assert.equal(stats.relayedBytes, b.frameSizes[0]);
    // Over time, nothing but maps and cookies: the relay never sends unasked.
    await sim.run(1_000);
    assert.equal(b.frames.length, 1);
  });
});

test('off by default: a frame is dropped and counted, the cookie datagram never says Relay', async () => {
  await withRelayingRolodex({ relay: false }, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    await join(sim, a, b);
    assert.ok(a.cookie !== undefined && !a.toldRelay);
    a.forward(b.endpoint, Buffer.from('x'));
    await sim.settle();
    assert.equal(b.frames.length, 0);
    assert.equal(server.stats().drops.relay_off, 1);
    assert.equal(server.stats().relayedFrames, 0);
  });
  assert.equal(resolveOptions().relay, false);
});

test('it refuses, and counts by reason, frames from or to anyone but a verified member of the same network that takes relay frames', async () => {
  await withRelayingRolodex({}, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    const elsewhere = attach(sim, '203.0.113.3', 'other');
    const original = attach(sim, '203.0.113.4', 'net', false, false);
    const silent = attach(sim, '203.0.113.5');
    const stranger = attach(sim, '203.0.113.6');
    await join(sim, a, b, elsewhere, original);
    silent.heartbeat(); // registered, but never echoes its cookie
    await sim.settle();
    const payload = Buffer.from('x');
    a.forward(elsewhere.endpoint, payload); // another network
    a.forward(original.endpoint, payload); // an original member: it never hears a frame
    a.forward(silent.endpoint, payload); // not proven to receive at its address
    a.forward(a.endpoint, payload); // itself
    a.forward({ address: '198.51.100.99', port: 1 }, payload); // nobody
    silent.forward(b.endpoint, payload); // its sender has no verified cookie
    stranger.forward(b.endpoint, payload); // not registered at all
    a.forward(b.endpoint, payload, Buffer.alloc(COOKIE_BYTES, 1)); // a forged cookie
    a.forward(b.endpoint, payload, b.cookieBytes()); // another member's cookie
    sim.network.attach('203.0.113.7', 1).send(Buffer.of(0xfb, 2, 4, 1, 2, 3, 4, 0, 1), ROLODEX.port, ROLODEX.address); // a deliver frame
    sim.network.attach('203.0.113.8', 1).send(Buffer.of(0xfb, 1, 0), ROLODEX.port, ROLODEX.address); // cut short
    await sim.settle();
    for (const member of [a, b, elsewhere, original, silent, stranger]) assert.deepEqual(member.frames, [], formatEndpoint(member.endpoint));
    const drops = server.stats().drops;
    assert.deepEqual(
      { no_route: drops.relay_no_route, unverified: drops.relay_unverified, malformed: drops.relay_malformed },
      { no_route: 5, unverified: 4, malformed: 2 },
    );
    assert.equal(server.stats().relayedFrames, 0);
  });
});

test('an endpoint\'s budget refuses what goes beyond it and refills with time', async () => {
  await withRelayingRolodex({ relayEndpointBytesPerSecond: 10_000 }, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    const c = attach(sim, '203.0.113.3');
    await join(sim, a, b, c);
    const record = Buffer.alloc(991);
    // Each deliver frame is 1,000 bytes: ten fit the second's worth the budget allows at once.
    for (let i = 0; i < 12; i++) a.forward(b.endpoint, record);
    c.forward(b.endpoint, record);
    await sim.settle();
    assert.equal(b.frameSizes.filter((size) => size === 1_000).length, 11, 'a\'s ten, and c\'s own');
    assert.equal(server.stats().drops.relay_endpoint_budget, 2);
    await sim.run(500);
    for (let i = 0; i < 6; i++) a.forward(b.endpoint, record);
    await sim.settle();
    assert.equal(b.frames.length, 16, 'half a second refilled five');
    assert.equal(server.stats().drops.relay_endpoint_budget, 3);
  });
});

test('a network\'s budget is shared by its members, and another network\'s is its own', async () => {
  await withRelayingRolodex({ relayNetworkBytesPerSecond: 5_000 }, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    const x = attach(sim, '203.0.113.3', 'other');
    const y = attach(sim, '203.0.113.4', 'other');
    await join(sim, a, b, x, y);
    const record = Buffer.alloc(991);
    for (let i = 0; i < 3; i++) a.forward(b.endpoint, record);
    for (let i = 0; i < 3; i++) b.forward(a.endpoint, record);
    for (let i = 0; i < 3; i++) x.forward(y.endpoint, record);
    await sim.settle();
    assert.equal(a.frames.length + b.frames.length, 5);
    assert.equal(y.frames.length, 3);
    assert.equal(server.stats().drops.relay_network_budget, 1);
  });
});

test('a forgotten member is relayed for no more, and a budget below one record is refused', async () => {
  await withRelayingRolodex({}, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    await join(sim, a, b);
    // b goes silent; a keeps beating.
    for (let i = 0; i < 30; i++) {
      a.heartbeat();
      await sim.run(100);
    }
    assert.equal(server.stats().members, 1);
    a.forward(b.endpoint, Buffer.from('x'));
    b.forward(a.endpoint, Buffer.from('x'));
    await sim.settle();
    assert.equal(a.frames.length + b.frames.length, 0);
    assert.deepEqual([server.stats().drops.relay_no_route, server.stats().drops.relay_unverified], [1, 1]);
  });
  assert.throws(() => resolveOptions({ relayEndpointBytesPerSecond: 1_000 }), /relayEndpointBytesPerSecond must be at least one full-size record \(2048 bytes\), got 1000/);
});

/**
 * Three forget times of a member sending a frame every 50 ms and heartbeating every sixth of the
 * forget time (5 s of 30 s, as our members do), echoing new cookies at once: the times, from
 * the start, of the frames refused as unverified, and the cookies `a` held.
 */
async function unverifiedOverThreeForgetTimes(sim: Simulation, server: RolodexServer, a: RawMember, b: RawMember): Promise<{ refusedAt: number[]; cookies: Set<string | undefined> }> {
  const step = 50;
  const beatEvery = Math.round(FORGET_AFTER_MS / 6 / step);
  const refusedAt: number[] = [];
  const cookies = new Set<string | undefined>();
  for (let i = 0; i * step < 3 * FORGET_AFTER_MS; i++) {
    if (i % beatEvery === 0) for (const member of [a, b]) member.heartbeat();
    const before = server.stats().drops.relay_unverified ?? 0;
    a.forward(b.endpoint, Buffer.from('x'));
    await sim.run(step);
    if ((server.stats().drops.relay_unverified ?? 0) > before) refusedAt.push(i * step);
    cookies.add(a.cookie);
  }
  return { refusedAt, cookies };
}

test('a member that echoes the cookies it is sent stays verified: its frames are never refused as the forget time passes', async () => {
  // Maps at the members' heartbeat pace, as with the defaults (5 s of 30 s).
  await withRelayingRolodex({ mapIntervalMs: FORGET_AFTER_MS / 6 }, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    a.echoesAtOnce = b.echoesAtOnce = true;
    await join(sim, a, b);
    const { refusedAt, cookies } = await unverifiedOverThreeForgetTimes(sim, server, a, b);
    assert.deepEqual(refusedAt, []);
    assert.ok(cookies.size >= 4, `each renewal is a new cookie (${cookies.size} over three forget times)`);
    assert.equal(b.frames.length, 3 * FORGET_AFTER_MS / 50);
  });
});

test('a frame carrying a newer cookie proves its sender as the echoing heartbeat would, when a flood loses that heartbeat', async () => {
  await withRelayingRolodex({ mapIntervalMs: FORGET_AFTER_MS / 6 }, async (sim, server) => {
    const a = attach(sim, '203.0.113.1');
    const b = attach(sim, '203.0.113.2');
    await join(sim, a, b);
    // From now on a's heartbeats echoing a new cookie are lost for their first 600 ms (a silence
    // well short of the forget time, so a stays registered): only its frames carry the cookie.
    const firstEchoedAt = new Map<string | undefined, number>([[a.cookie, Number.NEGATIVE_INFINITY]]);
    sim.network.interceptor = (d) => {
      if (d.from.address !== a.endpoint.address || isRolodexFrame(d.data)) return d;
      const cookie = /"Cookie":"([^"]+)"/.exec(d.data.toString())?.[1];
      if (!firstEchoedAt.has(cookie)) firstEchoedAt.set(cookie, sim.clock.now());
      return sim.clock.now() - firstEchoedAt.get(cookie)! < 600 ? null : d;
    };
    const { refusedAt, cookies } = await unverifiedOverThreeForgetTimes(sim, server, a, b);
    assert.deepEqual(refusedAt, []);
    assert.ok(cookies.size >= 4, `renewed with new cookies (${cookies.size})`);
  });
});
