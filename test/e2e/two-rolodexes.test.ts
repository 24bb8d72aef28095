// End to end: a member registered with two rolodexes merges their maps. Members that share no
// rolodex never learn of each other; the one registered with both reaches everyone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { describePeers, ROLODEX_PORT, startMember, startRolodex, type MeshMember } from '../../lab/meshboi';
import { E2E_SKIP } from './mesh-fixture';

describe('two rolodexes', { skip: E2E_SKIP }, () => {
  let lab: Lab;
  let members: MeshMember[];

  before(async () => {
    lab = await Lab.create({ public: ['r1', 'r2', 'both'], nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'cone', hosts: ['b1'] } } });
    await lab.explainFailure(async () => {
      await Promise.all([startRolodex(lab.host('r1')), startRolodex(lab.host('r2'))]);
      const at = (host: string): string => `${lab.host(host).address}:${ROLODEX_PORT}`;
      const join = (host: string, vpnIp: string, rolodexes: string[]): Promise<MeshMember> =>
        startMember(lab.host(host), { network: 'two', psk: 'two rolodexes lab key, long enough', vpnIp, rolodexes });
      members = await Promise.all([
        join('both', '192.168.50.1/24', [at('r1'), at('r2')]),
        join('a1', '192.168.50.2/24', [at('r1')]),
        join('b1', '192.168.50.3/24', [at('r2')]),
      ]);
    });
  });
  after(() => lab?.teardown());

  test('the member on both rolodexes connects to the members of each; the others never meet', () =>
    lab.explainFailure(async () => {
      const [both, a1, b1] = members;
      await Promise.all([both.waitForEstablished([a1.vpnIp, b1.vpnIp], 30_000), a1.waitForEstablished([both.vpnIp], 30_000), b1.waitForEstablished([both.vpnIp], 30_000)]);
      const bothStatus = await both.status();
      assert.equal(bothStatus.rolodexes.length, 2);
      assert.ok(bothStatus.rolodexes.every((rolodex) => rolodex.reachable), JSON.stringify(bothStatus.rolodexes));
      for (const result of await Promise.all([both.ping(a1.vpnIp), a1.ping(both.vpnIp), both.ping(b1.vpnIp), b1.ping(both.vpnIp)])) {
        assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}`);
      }
      for (const [member, stranger] of [[a1, b1], [b1, a1]] as const) {
        const status = await member.status();
        assert.equal(status.peers.length, 1, `${member.name} knows only the member on its rolodex: ${describePeers(status)}`);
        assert.equal((await member.ping(stranger.vpnIp, 1)).received, 0);
      }
    }));
});
