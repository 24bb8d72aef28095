// End to end: with 5% of packets dropped each way on one member's uplink, the mesh still forms and
// TCP transfers through that member's tunnels complete intact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { numberedMembers, startMeshLab, tcpTransfer, waitForFullMesh, type Mesh } from '../../lab/meshboi';
import { skipUnlessRoot } from '../../lab/tools';

const skip = skipUnlessRoot('runs members with TUN devices in network namespaces behind nftables NATs');
const TRANSFER_BYTES = 4 * 1024 * 1024;

describe('a lossy uplink', { skip }, () => {
  let lab: Lab;
  let mesh: Mesh;

  before(async () => {
    ({ lab, mesh } = await startMeshLab(
      {
        public: ['rolodex', 'pub'],
        nats: { home: { kind: 'cone', hosts: ['lossy'] }, office: { kind: 'cone', hosts: ['b1'] } },
        loss: { lossy: 5 },
      },
      { rolodexHost: 'rolodex', members: numberedMembers(['pub', 'lossy', 'b1']) },
    ));
  });
  after(() => lab?.teardown());

  test('5% loss on one member uplink: the mesh still forms and TCP transfers through its tunnels complete', () =>
    lab.explainFailure(async () => {
      // Lost handshake flights cost retransmission timeouts, hence the longer wait.
      await waitForFullMesh(mesh.members, 60_000);
      const [pub, lossy, b1] = mesh.members;
      const upload = await tcpTransfer(lossy, b1, TRANSFER_BYTES);
      const download = await tcpTransfer(pub, lossy, TRANSFER_BYTES);
      for (const [direction, result] of [['upload', upload], ['download', download]] as const) {
        assert.ok(result.intact && result.bytesReceived === TRANSFER_BYTES, `${direction}: ${result.bytesReceived} of ${TRANSFER_BYTES} bytes, intact ${result.intact}`);
      }
      const lossyStatus = await lossy.status();
      assert.ok(lossyStatus.peers.every((peer) => peer.state === 'established'));
    }));
});
