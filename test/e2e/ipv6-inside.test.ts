// End to end: members with IPv6 VPN addresses behind two cone NATs: pings and a TCP transfer
// cross the tunnel, which carries IPv6 packets over the IPv4 internet.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tcpTransfer, waitForFullMesh } from '../../lab/meshboi';
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
