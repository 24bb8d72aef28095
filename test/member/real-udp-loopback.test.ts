// The same member over real UDP sockets on loopback (the rolodex too), so nothing in the member
// depends on the in-memory network's behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RolodexServer } from '../../rolodex/server';
import { startMember, type Member } from '../../src/member/main';
import { UdpTransport } from '../../src/net/udp-transport';
import { ChannelDevice } from '../../src/tun/channel-device';
import { activeHandles, assertNoLeaks, capturedLogger, eventually } from './harness';
import { FAST_ROLODEX, FAST_TIMINGS, ipPacket, PSK } from './mesh';

test('two members and a rolodex on loopback UDP sockets connect and carry packets both ways', async () => {
  const before = activeHandles();
  const rolodexSocket = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
  const rolodex = new RolodexServer(rolodexSocket, FAST_ROLODEX);
  rolodex.start();
  const running: Array<{ member: Member; socket: UdpTransport; device: ChannelDevice }> = [];
  try {
    for (const vpnIp of ['192.168.50.1', '192.168.50.2']) {
      const socket = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
      const device = new ChannelDevice();
      const member = await startMember(
        { network: 'loopnet', psk: PSK, vpnIp, vpnPrefixLength: 24, rolodexes: [rolodexSocket.localEndpoint()] },
        { transport: socket, device },
        { timings: FAST_TIMINGS, log: capturedLogger().log },
      );
      running.push({ member, socket, device });
    }
    const [alice, bob] = running;
    await eventually('both established', () => running.every((m) => m.member.status().peers.some((p) => p.state === 'established')));
    const toBob = ipPacket('192.168.50.1', '192.168.50.2', 'over loopback');
    alice.device.inject(toBob);
    await bob.device.waitForWritten(1);
    assert.ok(bob.device.written[0].equals(toBob));
    bob.device.inject(ipPacket('192.168.50.2', '192.168.50.1', 'and back'));
    await alice.device.waitForWritten(1);
    assert.equal(alice.member.status().outsideAddress, `127.0.0.1:${alice.socket.localEndpoint().port}`);
  } finally {
    for (const { member, socket, device } of running) {
      await member.stop();
      await socket.close();
      await device.close();
    }
    await rolodex.stop();
  }
  await assertNoLeaks(before);
});
