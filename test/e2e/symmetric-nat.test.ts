// End to end: a member behind a symmetric NAT (a new random outside port per destination). The test
// pins what the design achieves and that `meshboi status` says why a pair is not connected.
//
// Pinned result: the symmetric member connects to the public member but not to the one behind the
// (port-restricted) cone NAT. It is the DTLS server toward both (its outside address sorts last);
// its `hello` leaves from a fresh port, which the public member takes as a peer-reflexive candidate
// and handshakes on, while the cone NAT drops it as unsolicited, and the cone member's ClientHellos
// to the port the rolodex saw meet no mapping. Both ends of that pair say why in status: the cone
// member's handshake timed out with nothing back, the symmetric member's hellos drew no handshake.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describePeers, numberedMembers, waitFor, waitForFullMesh, type MeshMember, type PeerStatus } from '../../lab/meshboi';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

const SYMMETRIC_HINT = /its NAT or ours may be symmetric \(address-dependent mapping\)/;

/** Waits until `member` gives a reason (lastError) for its peer at `outside`; returns that peer. */
function explanation(member: MeshMember, outside: string, timeoutMs: number): Promise<PeerStatus> {
  return waitFor(`${member.name} to explain why it has no session with ${outside}`, timeoutMs, async () => {
    const status = await member.status();
    const peer = status.peers.find((each) => each.outsideAddress === outside);
    if (!peer?.lastError) throw new Error(describePeers(status));
    return peer;
  }, 1_000);
}

describe('a member behind a symmetric NAT', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    {
      public: ['rolodex', 'pub'],
      nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'symmetric', hosts: ['s1'] } },
    },
    { rolodexHost: 'rolodex', members: numberedMembers(['pub', 'a1', 's1']) },
  );

  test('the symmetric member connects to the public member through the port its hello came from, not to the cone member, and status says why on both sides', () =>
    fixture.run(async ({ mesh }) => {
      const [pub, a1, s1] = mesh.members;
      await waitForFullMesh([pub, a1], 30_000);
      await Promise.all([pub.waitForEstablished([s1.vpnIp], 30_000), s1.waitForEstablished([pub.vpnIp], 30_000)]);
      const s1Outside = (await s1.status()).outsideAddress ?? '';
      assert.match(s1Outside, /^203\.0\.113\.101:/);
      const pubToS1 = await pub.peer(s1.vpnIp);
      assert.match(pubToS1?.endpoint ?? '', /^203\.0\.113\.101:/);
      assert.notEqual(pubToS1?.endpoint, s1Outside, 'the session runs on the port the hello came from, not the one the rolodex saw');
      assert.equal((await s1.ping(pub.vpnIp, 2)).received, 2);
      assert.equal((await pub.ping(s1.vpnIp, 2)).received, 2);

      // The cone member gives up on a round after five unanswered ClientHellos, about 31 s.
      const a1ToS1 = await explanation(a1, s1Outside, 45_000);
      assert.notEqual(a1ToS1.state, 'established');
      assert.equal(a1ToS1.vpnIp, null, 'no handshake ever told it the VPN IP');
      assert.match(a1ToS1.lastError ?? '', /no answer to our ClientHello/);
      assert.match(a1ToS1.lastError ?? '', SYMMETRIC_HINT);

      const a1Outside = (await a1.status()).outsideAddress;
      const s1ToA1 = await explanation(s1, a1Outside ?? '', 15_000);
      assert.notEqual(s1ToA1.state, 'established');
      assert.match(s1ToA1.lastError ?? '', /no handshake from the peer after \d+ hellos/);
      assert.match(s1ToA1.lastError ?? '', SYMMETRIC_HINT);
      assert.equal((await s1.ping(a1.vpnIp, 2)).received, 0);
    }));
});
