// The lab's NATs on a real kernel: the cone NAT keeps one outside port for every destination, the
// symmetric NAT picks a new one per destination, and neither lets in a stranger.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { runProbe, startEcho, type AskAnswer } from '../../lab/probes';
import { skipUnlessRoot } from '../../lab/tools';

const skip = skipUnlessRoot('builds network namespaces and nftables NATs');

describe('lab NATs', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.create({
      public: ['srv', 'srv2'],
      nats: { home: { kind: 'cone', hosts: ['a1', 'a2'], udpTimeoutSeconds: 20 }, office: { kind: 'symmetric', hosts: ['s1'] } },
    });
    await Promise.all([startEcho(lab.host('srv'), 7000), startEcho(lab.host('srv'), 7001), startEcho(lab.host('srv2'), 7000)]);
  });
  after(() => lab?.teardown());

  const targets = ['--to', '203.0.113.10:7000', '--to', '203.0.113.10:7001', '--to', '203.0.113.11:7000'];

  test('the cone NAT rewrites the source to its own address and keeps the inside port for every destination', async () => {
    const answer = await runProbe<AskAnswer>(lab.host('a1'), ['ask', '--from-port', '40000', ...targets]);
    assert.deepEqual(
      answer.replies.map((reply) => reply.observed),
      ['203.0.113.100:40000', '203.0.113.100:40000', '203.0.113.100:40000'],
    );
  });

  test('the symmetric NAT rewrites the source and gives each destination a different outside port', async () => {
    const answer = await runProbe<AskAnswer>(lab.host('s1'), ['ask', '--from-port', '40000', ...targets]);
    const observed = answer.replies.map((reply) => reply.observed ?? 'none');
    assert.ok(observed.every((address) => address.startsWith('203.0.113.101:')), `observed ${observed.join(', ')}`);
    assert.equal(new Set(observed).size, 3, `observed ${observed.join(', ')}`);
  });

  test('a public host that was never sent to cannot reach a host behind the NAT', async () => {
    await startEcho(lab.host('a2'), 41000);
    const fromOutside = await runProbe<AskAnswer>(lab.host('srv2'), ['ask', '--to', '203.0.113.100:41000']);
    assert.equal(fromOutside.replies[0].observed, null);
    const fromLan = await runProbe<AskAnswer>(lab.host('a1'), ['ask', '--from-port', '40001', '--to', '10.1.0.3:41000']);
    assert.equal(fromLan.replies[0].observed, '10.1.0.2:40001', 'hosts on one LAN talk directly, without NAT');
  });

  test('a NAT given a UDP timeout forgets idle mappings after it; the others keep the kernel defaults', async () => {
    const read = (router: string, key: string): Promise<string> => lab.host(router).mustExec('sysctl', ['-n', key]).then((text) => text.trim());
    assert.equal(await read('home', 'net.netfilter.nf_conntrack_udp_timeout'), '20');
    assert.equal(await read('home', 'net.netfilter.nf_conntrack_udp_timeout_stream'), '20');
    assert.equal(await read('office', 'net.netfilter.nf_conntrack_udp_timeout'), '30');
  });
});
