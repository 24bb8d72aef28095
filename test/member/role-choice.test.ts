// Roles follow the spec's outside-address ordering: the larger address is the DTLS server and
// opens with `hello`; the smaller waits for it, then sends the ClientHello; a member skips itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMINGS } from '../../src/member/main';
import { isHello } from '../../src/member/unsealed-datagrams';
import { formatEndpoint } from '../../src/net/transport';

import { withMesh } from './mesh';

test('the member with the larger outside address is the server and says hello before the client handshakes', async () => {
  await withMesh(async (mesh) => {
    const between: string[] = [];
    // 192.0.2.9 sorts before 192.0.2.10 byte-wise (9 < 10), whatever the text says.
    const small = await mesh.addMember('small', { vpnIp: '192.168.50.1', address: '192.0.2.9', port: 7000 });
    const large = await mesh.addMember('large', { vpnIp: '192.168.50.2', address: '192.0.2.10', port: 7000 });
    const members = new Set([formatEndpoint(small.transport.localEndpoint()), formatEndpoint(large.transport.localEndpoint())]);
    mesh.network.interceptor = (d) => {
      if (members.has(formatEndpoint(d.from)) && members.has(formatEndpoint(d.to))) {
        between.push(`${d.from.address} ${isHello(d.data) ? 'hello' : `record ${d.data[0]}`}${d.ttl === DEFAULT_TIMINGS.openingTtl ? ' opening' : ''}`);
      }
      return d;
    };
    const fromSmall = await mesh.waitEstablished('small', '192.168.50.2');
    const fromLarge = await mesh.waitEstablished('large', '192.168.50.1');
    assert.equal(fromSmall.role, 'client');
    assert.equal(fromLarge.role, 'server');
    assert.deepEqual(between.slice(0, 2).sort(), ['192.0.2.10 hello opening', '192.0.2.9 hello opening'], 'each side first opens its NAT with a low-TTL hello');
    // No router between them, so the server's opening hello reaches the waiting client, which handshakes at once.
    assert.equal(between[2], '192.0.2.9 record 22', 'then the client sends its ClientHello');
    for (const name of ['small', 'large']) {
      const status = mesh.get(name).member.status();
      assert.equal(status.peers.length, 1, `${name} lists only the other member, never itself`);
      assert.notEqual(status.peers[0].outsideAddress, status.outsideAddress);
    }
  });
});

test('a client that hears nothing still starts its handshake after the wait', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('small', { vpnIp: '192.168.50.1', address: '192.0.2.9' });
    await mesh.addMember('large', { vpnIp: '192.168.50.2', address: '192.0.2.10' });
    // The server's hellos are lost; the client must carry on after its wait (spec: 1 s).
    mesh.network.interceptor = (d) => (isHello(d.data) ? null : d);
    await mesh.waitEstablished('small', '192.168.50.2');
    await mesh.ping('small', 'large');
  });
});
