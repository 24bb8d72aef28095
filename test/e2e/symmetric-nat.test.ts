// End to end: a member behind a symmetric NAT (a new random outside port per destination). The test
// pins what the design achieves and that `meshboi status` says why a pair is not connected.
//
// Pinned result: the symmetric member connects to nobody, not even the public member. It is the DTLS
// server toward both (its outside address sorts last); its `hello` leaves from a fresh port, so the
// public member drops it as coming from an unknown source, the cone NAT drops it as unsolicited, and
// their ClientHellos to the port the rolodex saw meet no mapping. The clients report a handshake
// timeout; the symmetric member reports its peers as still punching with nothing received.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describePeers, numberedMembers, waitFor, waitForFullMesh, type PeerStatus } from '../../lab/meshboi';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

/** Why a pair is down, as status shows it: the last error, or punching with nothing heard from the peer. */
function explanation(peer: PeerStatus): string | null {
  if (peer.lastError) return peer.lastError;
  if (peer.state === 'punching' && peer.packetsIn === 0) return 'punching, nothing received';
  return null;
}

describe('a member behind a symmetric NAT', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    {
      public: ['rolodex', 'pub'],
      nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'symmetric', hosts: ['s1'] } },
    },
    { rolodexHost: 'rolodex', members: numberedMembers(['pub', 'a1', 's1']) },
  );

  test('the symmetric member connects to nobody, the others connect, and status says why each pair is down', () =>
    fixture.run(async ({ mesh }) => {
      const [pub, a1, s1] = mesh.members;
      await waitForFullMesh([pub, a1], 30_000);
      const s1Outside = (await s1.status()).outsideAddress ?? '';
      assert.match(s1Outside, /^203\.0\.113\.101:/);
      // The clients give up on a round after several unanswered ClientHellos, which takes about 20 s.
      const [pubStatus, a1Status] = await Promise.all(
        [pub, a1].map((member) =>
          waitFor(`${member.name} to explain why it has no session with s1`, 45_000, async () => {
            const status = await member.status();
            const toS1 = status.peers.find((peer) => peer.outsideAddress === s1Outside);
            if (!toS1?.lastError) throw new Error(describePeers(status));
            return status;
          }, 1_000),
        ),
      );
      for (const status of [pubStatus, a1Status]) {
        const toS1 = status.peers.find((peer) => peer.outsideAddress === s1Outside);
        assert.notEqual(toS1?.state, 'established');
        assert.equal(toS1?.vpnIp, null, 'no handshake ever told it the VPN IP');
        assert.match(toS1?.lastError ?? '', /timed out|no answer/i);
      }
      const s1Status = await s1.status();
      assert.equal(s1Status.peers.length, 2, `s1 knows both others from the rolodex: ${describePeers(s1Status)}`);
      for (const peer of s1Status.peers) {
        assert.notEqual(peer.state, 'established', describePeers(s1Status));
        assert.ok(explanation(peer), `s1 says nothing about ${peer.outsideAddress}: ${describePeers(s1Status)}`);
      }
      assert.equal((await s1.ping(a1.vpnIp, 2)).received, 0);
      assert.equal((await s1.ping(pub.vpnIp, 2)).received, 0);
    }));
});
