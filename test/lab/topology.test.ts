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

