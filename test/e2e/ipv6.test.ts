// End to end with IPv6: members with IPv6 VPN addresses behind two cone NATs (IPv6 packets in
// tunnels over the IPv4 internet), and members that reach the rolodex and each other over IPv6.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { numberedMembers, tcpTransfer, waitForFullMesh } from '../../lab/meshboi';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

describe('IPv6 inside the tunnels', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    { public: ['rolodex'], nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'cone', hosts: ['b1'] } } },
    {
      rolodexHost: 'rolodex',
      network: 'six',
      members: [
        { host: 'a1', vpnIp: 'fd00:50::1/64' },
        { host: 'b1', vpnIp: 'fd00:50::2/64' },
      ],
    },
  );

  test('members with IPv6 VPN addresses behind two NATs ping each other and move a TCP stream intact', () =>
    fixture.run(async ({ mesh }) => {
      const [a1, b1] = mesh.members;
      const [a1Status] = await waitForFullMesh(mesh.members, 30_000);
      assert.equal(a1Status.vpnIp, 'fd00:50::1');
      assert.equal(a1Status.peers[0]?.vpnIp, 'fd00:50::2');
      for (const result of await Promise.all([a1.ping(b1.vpnIp), b1.ping(a1.vpnIp)])) {
        assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}`);
      }
      const transfer = await tcpTransfer(a1, b1, 2 * 1024 * 1024);
      assert.ok(transfer.intact && transfer.bytesReceived === 2 * 1024 * 1024, `${transfer.bytesReceived} bytes, intact ${transfer.intact}`);
    }));
});

describe('IPv6 outside the tunnels', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    { ipv6: true, public: ['rolodex', 'p1', 'p2'] },
    { rolodexHost: 'rolodex', rolodexOverIpv6: true, members: numberedMembers(['p1', 'p2']) },
  );

  test('members that reach the rolodex over IPv6 learn IPv6 outside addresses and connect over IPv6', () =>
    fixture.run(async ({ mesh }) => {
      const [p1, p2] = mesh.members;
      const [p1Status] = await waitForFullMesh(mesh.members, 30_000);
      assert.match(p1Status.outsideAddress ?? '', /^\[2001:db8::11\]:\d+$/);
      assert.match(p1Status.peers[0]?.endpoint ?? '', /^\[2001:db8::12\]:\d+$/);
      assert.equal(p1Status.rolodexes[0]?.address, '[2001:db8::10]:6264');
      for (const result of await Promise.all([p1.ping(p2.vpnIp), p2.ping(p1.vpnIp)])) {
        assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}`);
      }
    }));
});
