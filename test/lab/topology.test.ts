// The lab's topology plan and NAT rules, checked without root: names, addresses and mistakes a test author can make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { natRuleset } from '../../lab/lab';
import { parseRunName, newRunId } from '../../lab/names';
import { planTopology, TopologyError } from '../../lab/topology';

test('public hosts, NAT routers and private hosts get addresses, gateways and loss from the description', () => {
  const plan = planTopology({
    public: ['rolodex', 'pub'],
    nats: { home: { kind: 'cone', hosts: ['a1', 'a2'] }, office: { kind: 'symmetric', hosts: ['s1'] } },
    loss: { a2: 5 },
  });
  const byName = new Map(plan.hosts.map((host) => [host.name, host]));
  assert.deepEqual([byName.get('rolodex')?.address, byName.get('rolodex')?.gateway], ['203.0.113.10', '203.0.113.1']);
  assert.equal(byName.get('pub')?.address, '203.0.113.11');
  assert.deepEqual(
    [byName.get('home')?.role, byName.get('home')?.address, byName.get('home')?.lanAddress, byName.get('home')?.natKind],
    ['router', '203.0.113.100', '10.1.0.1', 'cone'],
  );
  assert.equal(byName.get('office')?.natKind, 'symmetric');
  assert.deepEqual([byName.get('a2')?.address, byName.get('a2')?.gateway, byName.get('a2')?.nat], ['10.1.0.3', '10.1.0.1', 'home']);
  assert.equal(byName.get('s1')?.address, '10.2.0.2');
  assert.equal(byName.get('a2')?.lossPercent, 5);
  assert.equal(byName.get('a1')?.lossPercent, 0);
});

test('a name used twice, an unusable name, an unknown NAT kind, a bad loss or UDP timeout is refused with what to change', () => {
  assert.throws(() => planTopology({ public: ['a'], nats: { a: { kind: 'cone', hosts: [] } } }), /"a" is used twice/);
  assert.throws(() => planTopology({ public: ['Rolodex'] }), /lowercase letters or digits/);
  assert.throws(() => planTopology({ public: ['averyveryverylongname'] }), TopologyError);
  assert.throws(() => planTopology({ nats: { n: { kind: 'full' as 'cone', hosts: [] } } }), /use "cone" or "symmetric"/);
  assert.throws(() => planTopology({ public: ['a'], loss: { b: 5 } }), /"b", which is not a host/);
  assert.throws(() => planTopology({ public: ['a'], loss: { a: 2.5 } }), /whole percentage/);
  assert.throws(() => planTopology({ public: ['a'], loss: { a: 101 } }), /whole percentage/);
  assert.throws(() => planTopology({ nats: { n: { kind: 'cone', hosts: [], udpTimeoutSeconds: 0 } } }), /at least 1/);
});

test('the symmetric NAT masquerades with fully random ports and the cone NAT keeps ports; both drop unsolicited inbound', () => {
  assert.match(natRuleset('symmetric'), /masquerade fully-random;/);
  assert.match(natRuleset('cone'), /masquerade;/);
  for (const kind of ['cone', 'symmetric'] as const) assert.match(natRuleset(kind), /iifname "eth0" ct state new drop/);
});

test('a run id carries its owner pid so cleanup can tell a dead run from a live one', () => {
  const runId = newRunId('mbtest');
  assert.deepEqual(parseRunName(`${runId}-a1`, 'mbtest'), { runId, ownerPid: process.pid });
  assert.deepEqual(parseRunName(runId, 'mbtest'), { runId, ownerPid: process.pid });
  assert.equal(parseRunName(`${runId}-a1`, 'mblab'), null);
  assert.equal(parseRunName('mbtestx-1-abcd-a1', 'mbtest'), null);
  assert.throws(() => newRunId('Bad-Prefix'), /lowercase letters or digits/);
});

test('with ipv6 the public hosts and routers also get an IPv6 address ending like their IPv4 one; LAN hosts do not', () => {
  const plan = planTopology({ ipv6: true, public: ['rolodex'], nats: { home: { kind: 'cone', hosts: ['a1'] } } });
  assert.deepEqual(
    plan.hosts.map((host) => [host.name, host.address6]),
    [['rolodex', '2001:db8::10'], ['home', '2001:db8::100'], ['a1', null]],
  );
  assert.ok(planTopology({ public: ['rolodex'] }).hosts.every((host) => host.address6 === null));
});


test('transit routers form a chain per site, outermost first, routing the site address down; the site keeps its address', () => {
  const plan = planTopology({ public: ['srv'], nats: { home: { kind: 'cone', hosts: ['a1'] } }, transit: { home: 2, srv: 1 } });
  const byName = new Map(plan.hosts.map((host) => [host.name, host]));
  assert.deepEqual(
    ['homet1', 'homet2', 'srvt1'].map((name) => [byName.get(name)?.role, byName.get(name)?.address, byName.get(name)?.upstream, byName.get(name)?.routesDown]),
    [['transit', '198.51.100.1', null, '203.0.113.100'], ['transit', '198.51.100.2', 'homet1', '203.0.113.100'], ['transit', '198.51.100.3', null, '203.0.113.10']],
  );
  assert.deepEqual([byName.get('home')?.address, byName.get('home')?.upstream], ['203.0.113.100', 'homet2']);
  assert.equal(byName.get('srv')?.upstream, 'srvt1');
  assert.equal(byName.get('a1')?.upstream, null, 'LAN hosts stay on their LAN');
  // Uplink to uplink, home -> homet2 -> homet1 -> srvt1 -> srv: three routers forward, so three hops.
  const chain = (site: string): string[] => {
    const routers: string[] = [];
    for (let next = byName.get(site)?.upstream ?? null; next !== null; next = byName.get(next)?.upstream ?? null) routers.push(next);
    return routers;
  };
  assert.equal(chain('home').length + chain('srv').length, 3);
});

test('a NAT keeps stray conntrack state only when its input filter is off; the ruleset then has no input chain', () => {
  const plan = planTopology({ nats: { open: { kind: 'cone', hosts: [], inputFilter: false }, closed: { kind: 'symmetric', hosts: [] } } });
  assert.deepEqual(plan.hosts.map((host) => [host.name, host.inputFilter]), [['open', false], ['closed', true]]);
  assert.doesNotMatch(natRuleset('cone', false), /chain input/);
  assert.match(natRuleset('cone', false), /masquerade;/);
  assert.match(natRuleset('symmetric', false), /iifname "eth0" ct state new drop/, 'forwarded strangers are still dropped');
});

test('blocked UDP pairs name sites and become address pairs', () => {
  const plan = planTopology({ public: ['srv'], nats: { home: { kind: 'cone', hosts: ['a1'] } }, blockUdp: [['home', 'srv']] });
  assert.deepEqual(plan.blockedUdp, [['203.0.113.100', '203.0.113.10']]);
  assert.deepEqual(planTopology({ public: ['srv'] }).blockedUdp, []);
});

test('transit or blocks naming a LAN host or an unknown site, a bad hop count, a name clash or transit with IPv6 are refused', () => {
  const nats = { home: { kind: 'cone' as const, hosts: ['a1'] } };
  assert.throws(() => planTopology({ nats, transit: { a1: 1 } }), /"a1", which is not a public host or NAT/);
  assert.throws(() => planTopology({ nats, transit: { nowhere: 1 } }), /"nowhere", which is not a public host or NAT/);
  assert.throws(() => planTopology({ nats, transit: { home: 1.5 } }), /whole number of routers from 0 to 8/);
  assert.throws(() => planTopology({ nats, transit: { home: 9 } }), /from 0 to 8/);
  assert.throws(() => planTopology({ public: ['homet1'], nats, transit: { home: 1 } }), /"homet1" is used twice/);
  assert.throws(() => planTopology({ ipv6: true, nats, transit: { home: 1 } }), /IPv4 only/);
  assert.throws(() => planTopology({ nats, blockUdp: [['home', 'home']] }), /with itself/);
  assert.throws(() => planTopology({ nats, blockUdp: [['home', 'a1']] }), /blockUdp names "a1"/);
});
