// Punching between two hosts behind NATs that keep stray conntrack state (docs/punching.md): plain
// repeated sends, as members send today, never connect; a first packet whose TTL opens our NAT but
// dies before the peer's, then steady sends, does, as long as a router sits between the NATs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { startEcho } from '../../lab/probes';
import { PLAIN_REPEATED, TTL_THEN_REPEATED } from '../../lab/punch-techniques';
import { punchPair, type PunchPairResult, type PunchRun } from '../../lab/punching';
import { skipUnlessRoot } from '../../lab/tools';

const skip = skipUnlessRoot('builds network namespaces and NATs without an input filter');

describe('punching through NATs with stray conntrack state', { skip }, () => {
  let lab: Lab;
  let port = 43_000;
  before(async () => {
    lab = await Lab.create({
      public: ['rdv'],
      nats: {
        sa: { kind: 'cone', hosts: ['a'], inputFilter: false },
        sb: { kind: 'cone', hosts: ['b'], inputFilter: false },
        na: { kind: 'cone', hosts: ['c'], inputFilter: false },
        nb: { kind: 'cone', hosts: ['d'], inputFilter: false },
      },
      transit: { sa: 1, sb: 1 },
    });
    await startEcho(lab.host('rdv'), 7000);
  });
  after(() => lab?.teardown());

  // Fresh ports per run: no conntrack entry of an earlier run is in the way.
  const punch = (first: string, second: string, run: Omit<PunchRun, 'rendezvous' | 'port'>): Promise<PunchPairResult> => {
    port += 1;
    return punchPair(lab.host(first), lab.host(second), { rendezvous: `${lab.host('rdv').address}:7000`, port, ...run });
  };

  // docs/punching.md: starting together fails too, nearly always; 300 ms apart it fails every time.
  test('plain sends every second, one side 300 ms late, never connect: the first packets left stray entries that remap each member', async () => {
    const result = await punch('a', 'b', { skewMs: 300, technique: PLAIN_REPEATED });
    assert.equal(result.connected, false, JSON.stringify(result));
    assert.ok(result.sides.every((side) => side.sent >= 5 && side.heardFrom === null), JSON.stringify(result));
  });

  for (const skewMs of [0, 300]) {
    test(`a TTL-2 packet first, then sends every second, connects with the second side ${skewMs} ms late`, async () => {
      const result = await punch('a', 'b', { skewMs, technique: TTL_THEN_REPEATED });
      assert.equal(result.connected, true, JSON.stringify(result));
      assert.deepEqual(result.sides.map((side) => side.heardFrom), [`203.0.113.101:${port}`, `203.0.113.100:${port}`], 'each heard the other from the port the rendezvous saw');
    });
  }

  test('with no router between the NATs the TTL-2 packet reaches the peer NAT itself and leaves the stray entry: no connection', async () => {
    const result = await punch('c', 'd', { skewMs: 300, technique: TTL_THEN_REPEATED });
    assert.equal(result.connected, false, JSON.stringify(result));
  });
});
