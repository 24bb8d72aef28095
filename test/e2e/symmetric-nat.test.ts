// End to end: a member behind a symmetric NAT (a new random outside port per destination). The test
// pins what the design achieves and that `meshboi status` says why a pair is not connected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { describePeers, startMesh, waitFor, waitForFullMesh, type Mesh } from '../../lab/meshboi';
import { isRoot } from '../../lab/tools';

const skip = isRoot() ? false : 'needs root: runs members with TUN devices in network namespaces behind nftables NATs';

describe('a member behind a symmetric NAT', { skip }, () => {
  let lab: Lab;
  let mesh: Mesh;

  before(async () => {
    lab = await Lab.create({
      public: ['rolodex', 'pub'],
      nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'symmetric', hosts: ['s1'] } },
    });
    mesh = await lab.explainFailure(() =>
      startMesh(lab, {
        rolodexHost: 'rolodex',
        members: [
          { host: 'pub', vpnIp: '192.168.50.1/24' },
          { host: 'a1', vpnIp: '192.168.50.2/24' },
          { host: 's1', vpnIp: '192.168.50.3/24' },
        ],
      }),
    );
  });
  after(() => lab?.teardown());

  test('the pairs without the symmetric NAT connect; status explains every pair that does not', () =>
    lab.explainFailure(async () => {
      const [pub, a1, s1] = mesh.members;
      await waitForFullMesh([pub, a1], 30_000);
      const statuses = await waitFor('every member to give up on, or explain, each pair it cannot connect', 30_000, async () => {
        const all = await Promise.all(mesh.members.map((each) => each.status()));
        const unexplained = all.flatMap((status, index) =>
          status.peers.filter((peer) => peer.state !== 'established' && !peer.lastError).map((peer) => `${mesh.members[index].name} -> ${peer.vpnIp ?? peer.outsideAddress}`),
        );
        if (unexplained.length > 0) throw new Error(`no lastError yet for ${unexplained.join(', ')}`);
        return all;
      }, 1_000);
      const s1Status = statuses[2];
      assert.equal(s1Status.peers.length, 2, `s1 knows both others from the rolodex: ${describePeers(s1Status)}`);
      assert.equal(s1Status.peers.filter((peer) => peer.state === 'established').length, 0, describePeers(s1Status));
      assert.equal((await s1.ping(a1.vpnIp, 2)).received, 0);
      assert.equal((await s1.ping(pub.vpnIp, 2)).received, 0);
    }));
});
