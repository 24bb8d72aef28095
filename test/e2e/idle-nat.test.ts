// End to end: NATs that forget an idle UDP mapping after 20 s (many home routers use 30 s). The
// members' keepalives must hold the mappings open, so traffic after a long silence flows at once on
// the same session.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { numberedMembers, waitForFullMesh } from '../../lab/meshboi';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

const NAT_UDP_TIMEOUT_SECONDS = 20;
const IDLE_MS = 45_000;

describe('idle sessions behind NATs with short UDP timeouts', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    {
      public: ['rolodex'],
      nats: {
        home: { kind: 'cone', hosts: ['a1'], udpTimeoutSeconds: NAT_UDP_TIMEOUT_SECONDS },
        office: { kind: 'cone', hosts: ['b1'], udpTimeoutSeconds: NAT_UDP_TIMEOUT_SECONDS },
      },
    },
    { rolodexHost: 'rolodex', members: numberedMembers(['a1', 'b1']) },
  );

  test('after 45 s without traffic, pings cross both NATs at once on the same session', () =>
    fixture.run(async ({ mesh }) => {
      const [a1, b1] = mesh.members;
      await waitForFullMesh(mesh.members, 30_000);
      // The silence is the condition under test: more than twice the NATs' timeout with no user traffic.
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const results = await Promise.all([a1.ping(b1.vpnIp), b1.ping(a1.vpnIp)]);
      for (const result of results) assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}: ${result.received}/${result.transmitted}`);
      for (const [member, other] of [[a1, b1], [b1, a1]] as const) {
        const peer = await member.peer(other.vpnIp);
        assert.equal(peer?.state, 'established');
        assert.ok((peer?.sinceHandshakeMs ?? 0) >= IDLE_MS, `${member.name} made a new session with ${other.name} (handshake ${peer?.sinceHandshakeMs} ms ago)`);
      }
    }));
});
