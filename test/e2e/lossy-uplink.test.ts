// End to end: with 5% of packets dropped each way on one member's uplink, the mesh still forms and
// TCP transfers through that member's tunnels complete intact.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { numberedMembers, tcpTransfer, waitForFullMesh } from '../../lab/meshboi';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

const TRANSFER_BYTES = 4 * 1024 * 1024;

describe('a lossy uplink', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    {
      public: ['rolodex', 'pub'],
      nats: { home: { kind: 'cone', hosts: ['lossy'] }, office: { kind: 'cone', hosts: ['b1'] } },
      loss: { lossy: 5 },
    },
    { rolodexHost: 'rolodex', members: numberedMembers(['pub', 'lossy', 'b1']) },
  );

  test('5% loss on one member uplink: the mesh still forms and TCP transfers through its tunnels complete', () =>
    fixture.run(async ({ mesh }) => {
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
