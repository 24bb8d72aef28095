// What the lab's internet has besides NATs, on a real kernel: transit routers that TTLs count,
// NATs without an input filter that keep stray conntrack state (and remap our port because of it),
// symmetric NATs behind transit routers, and a pair of sites whose UDP to each other is blocked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { runProbe, startEcho, type AskAnswer } from '../../lab/probes';
import { skipUnlessRoot } from '../../lab/tools';

const skip = skipUnlessRoot('builds network namespaces, transit routers and nftables NATs');

describe('lab internet: transit routers, stray NAT state, blocked pairs', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.create({
      public: ['srv', 'srv2'],
      nats: {
        home: { kind: 'cone', hosts: ['a1'], inputFilter: false },
        office: { kind: 'cone', hosts: ['b1'], inputFilter: false },
        shop: { kind: 'cone', hosts: ['c1'] },
        sym: { kind: 'symmetric', hosts: ['s1'] },
      },
      transit: { home: 1, office: 2, sym: 1, srv2: 1 },
      blockUdp: [['office', 'srv2']],
    });
    await Promise.all([startEcho(lab.host('srv'), 7000), startEcho(lab.host('srv'), 7001), startEcho(lab.host('srv2'), 7000), startEcho(lab.host('office'), 7300)]);
  });
  after(() => lab?.teardown());

  const observed = async (host: string, args: string[]): Promise<Array<string | null>> =>
    (await runProbe<AskAnswer>(lab.host(host), ['ask', ...args])).replies.map((reply) => reply.observed);

  test('a packet needs one TTL per router: a1 -> home -> homet1 -> srv takes 3, home -> homet1 -> officet1 -> officet2 -> office takes 4', async () => {
    assert.deepEqual(await observed('a1', ['--from-port', '40000', '--ttl', '2', '--to', '203.0.113.10:7000']), [null]);
    assert.deepEqual(await observed('a1', ['--from-port', '40000', '--ttl', '3', '--to', '203.0.113.10:7000']), ['203.0.113.100:40000']);
    assert.deepEqual(await observed('home', ['--from-port', '40001', '--ttl', '3', '--to', '203.0.113.101:7300']), [null], 'the NAT uplinks are more than 2 hops apart');
    assert.deepEqual(await observed('home', ['--from-port', '40001', '--ttl', '4', '--to', '203.0.113.101:7300']), ['203.0.113.100:40001']);
  });

  test('a stray entry left by a packet to a NAT without an input filter makes it map our later packet to that sender onto another port', async () => {
    assert.deepEqual(await observed('srv', ['--from-port', '7200', '--to', '203.0.113.100:40100']), [null], 'nothing listens on the router');
    await startEcho(lab.host('srv'), 7200);
    const [afterStray] = await observed('a1', ['--from-port', '40100', '--to', '203.0.113.10:7200']);
    assert.match(afterStray ?? 'none', /^203\.0\.113\.100:\d+$/);
    assert.notEqual(afterStray, '203.0.113.100:40100', 'the stray entry holds the port, so the NAT picks another');
    await startEcho(lab.host('srv'), 7201);
    assert.deepEqual(await observed('a1', ['--from-port', '40101', '--to', '203.0.113.10:7201']), ['203.0.113.100:40101'], 'without a stray entry the port is kept');
  });

  test('a NAT with its input filter drops the early packet, so no stray entry forms and the port is kept', async () => {
    assert.deepEqual(await observed('srv', ['--from-port', '7202', '--to', '203.0.113.102:40102']), [null]);
    await startEcho(lab.host('srv'), 7202);
    assert.deepEqual(await observed('c1', ['--from-port', '40102', '--to', '203.0.113.10:7202']), ['203.0.113.102:40102']);
  });

  test('a symmetric NAT behind a transit router still gives each destination its own port', async () => {
    const ports = await observed('s1', ['--from-port', '40000', '--to', '203.0.113.10:7000', '--to', '203.0.113.10:7001', '--to', '203.0.113.11:7000']);
    assert.ok(ports.every((address) => address?.startsWith('203.0.113.103:')), `observed ${ports.join(', ')}`);
    assert.equal(new Set(ports).size, 3, `observed ${ports.join(', ')}`);
  });

  test('a blocked pair cannot exchange UDP but each still reaches everyone else, and ICMP still crosses', async () => {
    assert.deepEqual(await observed('srv2', ['--from-port', '40200', '--to', '203.0.113.101:7300']), [null]);
    assert.deepEqual(await observed('srv', ['--from-port', '40200', '--to', '203.0.113.101:7300']), ['203.0.113.10:40200']);
    assert.deepEqual(await observed('srv2', ['--from-port', '40201', '--to', '203.0.113.10:7000']), ['203.0.113.11:40201']);
    assert.deepEqual(await observed('b1', ['--from-port', '40202', '--to', '203.0.113.10:7000']), ['203.0.113.101:40202']);
    const ping = await lab.host('srv2').exec('ping', ['-c', '1', '-W', '2', '203.0.113.101']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  });
});
