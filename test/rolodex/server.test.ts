// The rolodex server in-process over the in-memory network, on simulated time: splitting, linear
// traffic, loss repair by rotation, Gone, limits, the per-destination byte budget, cookies that
// exempt members of ours from it, and per-source rates of new members and networks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, ClockTimer, ManualClock } from '../../src/clock';
import { MemoryNetwork, type MemoryTransport } from '../../src/net/memory-network';
import { formatEndpoint, type Endpoint } from '../../src/net/transport';
import { decodeMap, encodeHeartbeat, MAX_MAP_DATAGRAM_BYTES, type NetworkMap } from '../../src/rolodex-wire';
import { RolodexServer } from '../../rolodex/server';
import type { RolodexOptions } from '../../rolodex/options';
import { budgetKey, TokenBuckets } from '../../src/net/token-buckets';
import { Simulation } from '../support/simulation';

const ROLODEX: Endpoint = { address: '192.0.2.1', port: 6264 };
const FAST: Partial<RolodexOptions> = { mapIntervalMs: 200, forgetAfterMs: 60_000, summaryIntervalMs: 0, joinFlushMs: 0 };

/** A member as the rolodex sees it: one socket, heartbeats, and every map datagram it received. */
class TestMember {
  readonly maps: NetworkMap[] = [];
  readonly sizes: number[] = [];
  readonly known = new Set<string>();
  readonly gone = new Set<string>();
  /** The latest cookie received; echoed in heartbeats when `echo` is set, as our members do. */
  cookie: string | undefined;
  echo = false;

  constructor(readonly transport: MemoryTransport, private readonly extended = false, private readonly local: Endpoint[] = []) {
    transport.onMessage((data) => {
      this.sizes.push(data.length);
      const decoded = decodeMap(data);
      assert.ok(decoded.ok, `the rolodex sent an invalid map: ${data.toString()}`);
      this.maps.push(decoded.value);
      this.cookie = decoded.value.cookie ?? this.cookie;
      for (const endpoint of decoded.value.addresses) this.known.add(formatEndpoint(endpoint));
      for (const endpoint of decoded.value.gone) this.gone.add(formatEndpoint(endpoint));
    });
  }

  get key(): string {
    return formatEndpoint(this.transport.localEndpoint());
  }

  heartbeat(networkName = 'net', local = this.local): void {
    const cookie = this.echo ? this.cookie : undefined;
    this.transport.send(encodeHeartbeat({ networkName, local, meshboi: this.extended, ...(cookie === undefined ? {} : { cookie }) }), ROLODEX.port, ROLODEX.address);
  }
}

/**
 * The simulation's clock as the rolodex sees it on a machine whose event loop can get stuck:
 * stall() moves time on while no timer runs, so the next one fires that much late, and intervals
 * go on from there, as Node's do.
 */
class StallingClock implements Clock {
  private stalledMs = 0;

  constructor(private readonly clock: ManualClock) {}

  stall(ms: number): void {
    this.stalledMs += ms;
  }

  now(): number {
    return this.clock.now() + this.stalledMs;
  }

  setTimeout(run: () => void, ms: number): ClockTimer {
    return this.clock.setTimeout(run, ms);
  }

  setInterval(run: () => void, ms: number): ClockTimer {
    return this.clock.setInterval(run, ms);
  }

  clear(timer: ClockTimer): void {
    this.clock.clear(timer);
  }
}

async function withRolodex(
  options: Partial<RolodexOptions>,
  body: (sim: Simulation, server: RolodexServer, clock: StallingClock) => Promise<void>,
): Promise<void> {
  const sim = new Simulation();
  const clock = new StallingClock(sim.clock);
  const server = new RolodexServer(sim.network.attach(ROLODEX.address, ROLODEX.port), { ...FAST, ...options }, clock);
  server.start();
  try {
    await body(sim, server, clock);
  } finally {
    await server.stop();
  }
  sim.assertNoTimersLeft();
}

test('a heartbeat registers its sender, whose map lists it at YourIndex', async () => {
  await withRolodex({}, async (sim) => {
    const member = new TestMember(sim.network.attach('198.51.100.7', 41234));
    member.heartbeat();
    await sim.settle();
    assert.ok(member.maps.length > 0, 'a map at once (joinFlushMs 0)');
    assert.deepEqual(member.maps[0].addresses, [{ address: '198.51.100.7', port: 41234 }]);
    assert.equal(member.maps[0].yourIndex, 0);
    assert.equal(member.maps[0].meshboi, false);
  });
});

test('a network too large for one datagram reaches a newcomer as split maps, each naming it', async () => {
  await withRolodex({ mapIntervalMs: 60_000 }, async (sim) => {
    const members = Array.from({ length: 150 }, (_, i) => new TestMember(sim.network.attach(`2001:db8:${(i + 1).toString(16)}::1`, 40000 + i)));
    for (const member of members) member.heartbeat();
    const everyone = members.map((member) => member.key);
    // Far sooner than the map interval: the announcement and catch-up passes, not the rotation.
    await sim.until('everyone to know everyone', () => members.every((member) => member.known.size === members.length), 1_000);
    for (const member of members) {
      assert.ok(member.sizes.every((size) => size <= MAX_MAP_DATAGRAM_BYTES));
      for (const map of member.maps) assert.equal(formatEndpoint(map.addresses[map.yourIndex]), member.key);
      assert.deepEqual([...member.known].sort(), [...everyone].sort());
    }
    assert.ok(members[0].maps.length > 1, 'the map was split');
  });
});

test('once everyone is mapped, each member gets one datagram per interval, not the whole list', async () => {
  await withRolodex({ mapIntervalMs: 100 }, async (sim, server) => {
    const members = Array.from({ length: 300 }, (_, i) => new TestMember(sim.network.attach(`10.1.${i >> 8}.${i & 255}`, 5000)));
    for (const member of members) member.heartbeat();
    await sim.until('everyone to know everyone', () => members.every((member) => member.known.size === members.length), 1_000);
    const chunks = Math.ceil(members[0].maps.length / 2);
    await sim.run(250);
    const before = server.stats().datagramsOut;
    const mapsBefore = members.map((member) => member.maps.length);
    await sim.run(1000);
    const perInterval = (server.stats().datagramsOut - before) / 10;
    assert.equal(perInterval, members.length, `${perInterval} datagrams per interval for ${members.length} members`);
    const received = members.map((member, i) => member.maps.length - mapsBefore[i]);
    assert.ok(received.every((count) => count === 10), `every member hears from the rolodex once per interval (${Math.min(...received)}..${Math.max(...received)} in 10)`);
    assert.ok(chunks > 1, 'the whole list takes several datagrams');
  });
});

test('a large network\'s maps are spread over the interval, still one per member per interval', async () => {
  await withRolodex({ mapIntervalMs: 500 }, async (sim) => {
    const members = Array.from({ length: 700 }, (_, i) => new TestMember(sim.network.attach(`10.7.${i >> 8}.${i & 255}`, 4000)));
    for (const member of members) member.heartbeat();
    await sim.until('everyone to know everyone', () => members.every((member) => member.known.size === members.length), 2_000);
    await sim.run(1000);
    const arrivals: number[] = [];
    sim.network.interceptor = (datagram) => {
      if (datagram.from.address === ROLODEX.address) arrivals.push(sim.clock.now());
      return datagram;
    };
    const before = members.map((member) => member.maps.length);
    await sim.run(1000);
    const received = members.map((member, i) => member.maps.length - before[i]);
    assert.ok(received.every((count) => count === 2), `per member over 2 intervals: ${Math.min(...received)}..${Math.max(...received)}`);
    const bins = new Map<number, number>();
    for (const at of arrivals) bins.set(Math.floor(at / 100), (bins.get(Math.floor(at / 100)) ?? 0) + 1);
    // The wheel has five 100 ms slots per 500 ms interval: a fifth of the members in each.
    const busiest = Math.max(...bins.values());
    assert.ok(busiest <= Math.ceil(members.length / 5), `${busiest} of the ${arrivals.length} maps of two intervals fell in one 100 ms`);
  });
});

test('a timer that fires late still ends every map interval that came due meanwhile', async () => {
  await withRolodex({ mapIntervalMs: 500 }, async (sim, _server, clock) => {
    const members = Array.from({ length: 5 }, (_, i) => new TestMember(sim.network.attach(`10.8.0.${i + 1}`, 1)));
    for (const [i, member] of members.entries()) {
      member.heartbeat(`net-${i}`);
      await sim.run(100);
    }
    await sim.until('first maps', () => members.every((member) => member.maps.length > 0));
    await sim.run(50);
    const before = members.map((member) => member.maps.length);
    // The event loop is stuck, as on an overloaded machine: no timer can fire.
    clock.stall(1200);
    // The next pass (one turn of the 100 ms timer), that much late.
    await sim.run(100);
    const received = members.map((member, i) => member.maps.length - before[i]);
    assert.deepEqual(received, [1, 1, 1, 1, 1], 'one map to each of the 5 networks (one per wheel slot) once the loop was free');
  });
});

test('an announcement lost on the way is repaired by the slow rotation', async () => {
  await withRolodex({ mapIntervalMs: 50 }, async (sim) => {
    const members = Array.from({ length: 120 }, (_, i) => new TestMember(sim.network.attach(`10.2.0.${i + 1}`, 7000)));
    for (const member of members) member.heartbeat();
    await sim.until('everyone to know everyone', () => members.every((member) => member.known.size === members.length), 1_000);
    const victim = members[0];
    const late = new TestMember(sim.network.attach('10.2.1.1', 7000));
    let lost = 0;
    sim.network.interceptor = (datagram) => {
      if (datagram.to.address === '10.2.0.1' && datagram.data.includes('10.2.1.1:7000')) {
        lost++;
        return null;
      }
      return datagram;
    };
    late.heartbeat();
    await sim.until('the others to learn of the newcomer', () => members[1].known.has(late.key));
    assert.ok(lost > 0 && !victim.known.has(late.key), 'the announcement to the victim was lost');
    sim.network.interceptor = (datagram) => datagram;
    const keepAlive = sim.clock.setInterval(() => [...members, late].forEach((member) => member.heartbeat()), 200);
    try {
      await sim.until('the rotation to bring the newcomer to the victim', () => victim.known.has(late.key), 1_000);
    } finally {
      sim.clock.clear(keepAlive);
    }
  });
});

test('a forgotten member is announced as Gone to extension-aware members only', async () => {
  await withRolodex({ mapIntervalMs: 50, forgetAfterMs: 300 }, async (sim) => {
    const ours = new TestMember(sim.network.attach('10.3.0.1', 1), true);
    const original = new TestMember(sim.network.attach('10.3.0.2', 1));
    const leaver = new TestMember(sim.network.attach('10.3.0.3', 1));
    for (const member of [ours, original, leaver]) member.heartbeat();
    await sim.until('three members mapped', () => ours.known.size === 3 && original.known.size === 3);
    const keepAlive = sim.clock.setInterval(() => [ours, original].forEach((member) => member.heartbeat()), 100);
    try {
      // At the end of the first map interval after the forget time.
      await sim.until('the leaver to be announced as Gone', () => ours.gone.has(leaver.key), 300 + 50);
      const countAfterGone = original.maps.length;
      await sim.until('the original member to get more maps', () => original.maps.length > countAfterGone + 3);
      const last = original.maps[original.maps.length - 1];
      assert.deepEqual(last.addresses.map(formatEndpoint).sort(), [ours.key, original.key].sort());
      assert.ok(original.maps.every((map) => !map.meshboi && map.gone.length === 0), 'the original member never sees the extension');
    } finally {
      sim.clock.clear(keepAlive);
    }
  });
});

test('LAN endpoints reach extension-aware members, and a change is announced again', async () => {
  await withRolodex({ mapIntervalMs: 60_000 }, async (sim) => {
    const first = new TestMember(sim.network.attach('10.4.0.1', 1), true);
    const second = new TestMember(sim.network.attach('10.4.0.2', 1), true, [{ address: '192.168.1.2', port: 1 }]);
    first.heartbeat();
    second.heartbeat();
    // Announced, long before the 60 s rotation could carry them.
    await sim.until('the first to see the second LAN endpoint', () =>
      first.maps.some((map) => map.local.get(second.key)?.[0]?.address === '192.168.1.2'),
    );
    second.heartbeat('net', [{ address: '192.168.7.7', port: 1 }]);
    await sim.until('the first to see the new LAN endpoint', () =>
      first.maps.some((map) => map.local.get(second.key)?.[0]?.address === '192.168.7.7'),
    );
  });
});

test('limits refuse and count what is over them, with no reply, and the rolodex keeps serving', async () => {
  const limits = { maxNameBytes: 8, maxNetworks: 2, maxMembersPerNetwork: 2, maxMembers: 4 };
  await withRolodex(limits, async (sim, server) => {
    const hosts = Array.from({ length: 8 }, (_, i) => new TestMember(sim.network.attach(`10.5.0.${i + 1}`, 1)));
    const names = ['a-name-over-8-bytes', 'one', 'one', 'one', 'two', 'three', 'two', 'one'];
    hosts.forEach((host, i) => host.heartbeat(names[i]));
    await sim.until('the accepted members to be mapped', () => [1, 2, 4, 6].every((i) => hosts[i].maps.length > 0));
    await sim.run(100);
    const stats = server.stats();
    assert.deepEqual(stats.drops, { name_too_long: 1, network_full: 1, too_many_networks: 1, rolodex_full: 1 });
    assert.equal(stats.members, 4);
    assert.equal(stats.networks, 2);
    for (const i of [0, 3, 5, 7]) assert.equal(hosts[i].maps.length, 0, `host ${i} was refused silently`);
    sim.network.attach('10.5.0.99', 1).send(Buffer.from('{"NetworkName":7}'), ROLODEX.port, ROLODEX.address);
    await sim.settle();
    assert.equal(server.stats().drops.bad_field, 1, 'the malformed heartbeat is counted');
    hosts[1].heartbeat('one');
    await sim.until('maps to keep flowing', () => hosts[1].maps.length > 3, 2000);
  });
});

test('spoofed heartbeats from one address draw no more than the byte budget to it', async () => {
  const rate = 4000;
  const burst = 8000;
  await withRolodex({ budgetBytesPerSecond: rate, budgetBurstBytes: burst, mapIntervalMs: 100 }, async (sim, server) => {
    const bystanders = Array.from({ length: 100 }, (_, i) => new TestMember(sim.network.attach(`10.6.0.${i + 1}`, 9)));
    for (const member of bystanders) member.heartbeat();
    await sim.until('the bystanders to be mapped', () => bystanders.every((member) => member.known.size === bystanders.length), 1_000);
    let toVictim = 0;
    sim.network.interceptor = (datagram) => {
      if (datagram.to.address === '203.0.113.66') toVictim += datagram.data.length;
      return datagram;
    };
    const spoofed = Array.from({ length: 50 }, (_, i) => new TestMember(sim.network.attach('203.0.113.66', 1000 + i)));
    for (const member of spoofed) member.heartbeat();
    await sim.run(1500);
    assert.ok(toVictim <= burst + rate * 1.5, `${toVictim} bytes in 1.5 s`);
    assert.ok(toVictim >= burst / 2, `the victim address still got its budget (${toVictim} bytes)`);
    assert.ok(server.stats().throttled > 0);
  });
});

test('members of ours that echo their cookie are not rationed by the budget of the address they share', async () => {
  const burst = 6000;
  await withRolodex({ budgetBytesPerSecond: 1200, budgetBurstBytes: burst, mapIntervalMs: 100 }, async (sim, server) => {
    // 120 members behind one address: the whole list is about 3 KB per member, far over the budget.
    const crowd = Array.from({ length: 120 }, (_, i) => new TestMember(sim.network.attach('198.51.100.50', 20_000 + i), true));
    for (const member of crowd) member.heartbeat();
    await sim.run(500);
    assert.ok(crowd.filter((member) => member.known.size === crowd.length).length < crowd.length / 2, 'without proof the budget rations them');
    await sim.until('every member to get a cookie', () => crowd.every((member) => member.cookie !== undefined), 5_000);
    for (const member of crowd) {
      member.echo = true;
      member.heartbeat();
    }
    await sim.until('everyone to know everyone', () => crowd.every((member) => member.known.size === crowd.length), 5_000);
    assert.equal(server.stats().verifications, crowd.length);
  });
});

test('a cookie proves nothing for another endpoint, and a forged one is ignored', async () => {
  await withRolodex({ budgetBytesPerSecond: 1200, budgetBurstBytes: 2400, mapIntervalMs: 100 }, async (sim, server) => {
    const real = new TestMember(sim.network.attach('198.51.100.60', 1), true);
    real.heartbeat();
    await sim.until('a cookie', () => real.cookie !== undefined);
    const thief = new TestMember(sim.network.attach('198.51.100.61', 1), true);
    thief.cookie = real.cookie;
    thief.echo = true;
    thief.heartbeat();
    const forger = new TestMember(sim.network.attach('198.51.100.62', 1), true);
    forger.cookie = Buffer.alloc(12, 7).toString('base64url');
    forger.echo = true;
    forger.heartbeat();
    await sim.run(300);
    assert.equal(server.stats().verifications, 0);
    real.echo = true;
    real.heartbeat();
    await sim.settle();
    assert.equal(server.stats().verifications, 1, 'the real member is verified on its echo');
  });
});

test('one source registers new members and networks at a bounded rate, others are unaffected', async () => {
  const rates = { joinsPerSecond: 1, joinBurst: 20, networksPerSecond: 1, networkBurst: 5 };
  await withRolodex(rates, async (sim, server) => {
    const nameFlooder = Array.from({ length: 10 }, (_, i) => new TestMember(sim.network.attach('203.0.113.77', 30_000 + i)));
    nameFlooder.forEach((member, i) => member.heartbeat(`name-${i}`));
    const joinFlooder = Array.from({ length: 40 }, (_, i) => new TestMember(sim.network.attach('203.0.113.78', 30_000 + i)));
    joinFlooder.forEach((member) => member.heartbeat('shared'));
    await sim.settle();
    const stats = server.stats();
    assert.equal(stats.networks, 5 + 1, 'the burst of new networks from the first source, one from the second');
    assert.equal(stats.members, 5 + 20, 'the second source fills its join burst');
    assert.deepEqual(stats.drops, { network_rate: 5, join_rate: 20 });
    const bystander = new TestMember(sim.network.attach('198.51.100.70', 1));
    bystander.heartbeat('shared');
    await sim.until('another source still joins', () => bystander.maps.length > 0);
  });
});

test('the send budget refills at its rate up to its burst, and an IPv6 /64 shares one budget', () => {
  const budget = new TokenBuckets(1000, 3000);
  assert.ok(budget.take('a', 3000, 0));
  assert.ok(!budget.take('a', 1, 0));
  assert.ok(budget.take('b', 1200, 0), 'another destination has its own budget');
  assert.ok(!budget.take('a', 600, 500));
  assert.ok(budget.take('a', 500, 500));
  assert.ok(budget.take('a', 3000, 100_000));
  assert.ok(!budget.take('a', 1, 100_000), 'refill stops at the burst');
  budget.prune(200_000, 150_000);
  assert.equal(budget.size, 1, 'a bucket in recent use is kept');
  budget.prune(300_000, 150_000);
  assert.equal(budget.size, 0, 'idle full buckets are dropped');
  assert.equal(budgetKey('2001:db8:1:2:aaaa::1'), budgetKey('2001:db8:1:2:bbbb::2'));
  assert.notEqual(budgetKey('2001:db8:1:2::1'), budgetKey('2001:db8:1:3::1'));
  assert.equal(budgetKey('192.0.2.1'), '192.0.2.1');
});

test('unusable options are refused naming the option', () => {
  const network = new MemoryNetwork();
  const transport = network.attach(ROLODEX.address, ROLODEX.port);
  assert.throws(() => new RolodexServer(transport, { maxNetworks: 0 }), /maxNetworks must be a positive number/);
  assert.throws(() => new RolodexServer(transport, { budgetBurstBytes: 100 }), /at least one datagram/);
});

test('a member\'s opaque field is relayed unread beside its entry: a first one announced at once, a new one in later maps', async () => {
  await withRolodex({ mapIntervalMs: 100 }, async (sim) => {
    const sender = sim.network.attach('198.51.100.20', 4000);
    const send = (opaque?: string): void => {
      sender.send(encodeHeartbeat({ networkName: 'net', local: [], meshboi: true, ...(opaque === undefined ? {} : { opaque }) }), ROLODEX.port, ROLODEX.address);
    };
    const reader = new TestMember(sim.network.attach('198.51.100.21', 4001), true);
    const original = new TestMember(sim.network.attach('198.51.100.22', 4002), false);
    const opaqueSeen = (): Array<string | undefined> => reader.maps.map((map) => map.opaque.get('198.51.100.20:4000'));
    reader.heartbeat();
    original.heartbeat();
    send();
    await sim.until('the sender listed', () => reader.known.has('198.51.100.20:4000'));
    send('Zmlyc3Q');
    await sim.until('the first opaque field relayed', () => opaqueSeen().includes('Zmlyc3Q'));
    send('c2Vjb25k');
    await sim.until('the new one in a later map', () => opaqueSeen().includes('c2Vjb25k'), 5000);
    assert.ok(original.maps.length > 0 && original.maps.every((map) => map.opaque.size === 0), 'an original recipient never gets it');
  });
});
