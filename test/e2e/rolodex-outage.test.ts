// End to end: once the mesh is up the rolodex can die without a single ping being lost for 20 s,
// and a restarted rolodex lets a new member join everyone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { numberedMembers, startMember, startRolodex, waitForFullMesh } from '../../lab/meshboi';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

const MESH_TIMEOUT_MS = 30_000;

describe('the rolodex going away', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    {
      public: ['rolodex', 'pub'],
      nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'cone', hosts: ['b1', 'b2'] } },
    },
    { rolodexHost: 'rolodex', members: numberedMembers(['pub', 'a1', 'b1']) },
  );

  test('killing the rolodex once the mesh is up loses no ping for 20 s', () =>
    fixture.run(async ({ mesh }) => {
      await waitForFullMesh(mesh.members, MESH_TIMEOUT_MS);
      await mesh.rolodex.kill();
      const [pub, a1, b1] = mesh.members;
      // 100 pings 200 ms apart on every pair, each direction covered once around the triangle and once back.
      const results = await Promise.all([a1.ping(b1.vpnIp, 100), b1.ping(pub.vpnIp, 100), pub.ping(a1.vpnIp, 100), b1.ping(a1.vpnIp, 100)]);
      for (const result of results) assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}: ${result.received}/${result.transmitted}`);
      const status = await a1.status();
      assert.ok((status.rolodexes[0]?.lastMapAgoMs ?? Infinity) >= 15_000, 'no map came while the rolodex was dead');
      assert.ok(status.peers.every((peer) => peer.state === 'established'));
    }));

  test('a restarted rolodex lets a new member join everyone', () =>
    fixture.run(async ({ lab, mesh }) => {
      await mesh.rolodex.stop();
      mesh.rolodex = await startRolodex(lab.host('rolodex'));
      const newcomer = await startMember(lab.host('b2'), { network: mesh.network, psk: mesh.psk, vpnIp: '192.168.50.4/24', rolodexes: [mesh.rolodexAddress] });
      mesh.members.push(newcomer);
      // The old members re-register at their next heartbeat (every 5 s), then the rolodex introduces them.
      await waitForFullMesh(mesh.members, MESH_TIMEOUT_MS);
      const others = mesh.members.filter((each) => each !== newcomer);
      const results = await Promise.all(others.flatMap((each) => [each.ping(newcomer.vpnIp), newcomer.ping(each.vpnIp)]));
      for (const result of results) assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}`);
    }));
});
