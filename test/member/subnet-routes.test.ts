// Subnets behind a member: a member advertises its LAN's prefix, members with --accept-routes
// route it there and accept inner sources in it from that member only; overlaps are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMember } from '../../src/member/main';
import { ChannelDevice } from '../../src/tun/channel-device';
import { ipPacket, PSK, withMesh } from './mesh';

test('a member accepting routes reaches a host on an advertising member\'s LAN, and hears back from it', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', advertiseRoutes: ['10.1.0.0/24'] });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', acceptRoutes: true });
    const carol = await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30' });
    await mesh.until('bob routes alice\'s LAN', () => mesh.peerOf('bob', '192.168.50.1')?.routes[0] === '10.1.0.0/24');
    assert.deepEqual(bob.routes.at(-1)?.map((prefix) => prefix.text), ['10.1.0.0/24'], 'bob asked his device for the route');

    const request = ipPacket('192.168.50.2', '10.1.0.7', 'to the LAN host');
    bob.device.inject(request);
    await mesh.until('alice\'s TUN has the packet for her LAN', () => alice.device.written.some((packet) => packet.equals(request)));
    const answer = ipPacket('10.1.0.7', '192.168.50.2', 'from the LAN host');
    alice.device.inject(answer);
    await mesh.until('bob\'s TUN has the LAN host\'s answer', () => bob.device.written.some((packet) => packet.equals(answer)));

    // Carol did not accept routes: no route there, and the LAN source counts as forged.
    await mesh.waitEstablished('carol', '192.168.50.1');
    await mesh.run(300);
    assert.deepEqual(mesh.peerOf('carol', '192.168.50.1')?.routes, []);
    carol.device.inject(ipPacket('192.168.50.3', '10.1.0.7', 'no route'));
    assert.equal(carol.member.status().drops.no_route, 1);
    alice.device.inject(ipPacket('10.1.0.7', '192.168.50.3', 'not accepted'));
    await mesh.until('carol drops the LAN source', () => mesh.peerOf('carol', '192.168.50.1')?.drops.spoofed_source === 1);
  });
});

test('a route overlapping another member\'s, the VPN or a member\'s address is refused with the reason', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', advertiseRoutes: ['10.1.0.0/24'] });
    const bob = await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', acceptRoutes: true });
    await mesh.until('bob routes alice\'s LAN', () => mesh.peerOf('bob', '192.168.50.1')?.routes.length === 1);
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', advertiseRoutes: ['10.1.0.0/16', '10.2.0.0/16'] });
    await mesh.addMember('dave', { vpnIp: '172.16.0.4', address: '192.0.2.40', advertiseRoutes: ['192.168.0.0/16'] });
    await mesh.waitEstablished('bob', '192.168.50.3');
    await mesh.waitEstablished('bob', '172.16.0.4');
    await mesh.run(500);
    assert.deepEqual(mesh.peerOf('bob', '192.168.50.3')?.routes, ['10.2.0.0/16']);
    assert.deepEqual(mesh.peerOf('bob', '172.16.0.4')?.routes, []);
    const refusals = bob.logs.lines.filter((line) => line.message === 'refused part of a peer\'s claims').map((line) => String(line.reason));
    assert.deepEqual(refusals.sort(), ['route 10.1.0.0/16 overlaps 10.1.0.0/24 of 192.168.50.1', 'route 192.168.0.0/16 overlaps our own 192.168.50.0/24']);
    // The refused overlap changed nothing: 10.1.0.9 still goes to alice.
    bob.device.inject(ipPacket('192.168.50.2', '10.1.0.9', 'alice'));
    await mesh.until('alice gets it', () => mesh.get('alice').device.written.length === 1);
  });
});

test('advertising a route that overlaps the VPN or another advertised one is refused at start', async () => {
  await withMesh(async (mesh) => {
    const start = (advertiseRoutes: string[]) =>
      startMember(
        { network: 'testnet', psk: PSK, vpnIp: '192.168.50.1', vpnPrefixLength: 24, rolodexes: mesh.rolodexEndpoints, advertiseRoutes },
        { transport: mesh.network.attach('192.0.2.10'), device: new ChannelDevice('tun-x') },
        { clock: mesh.clock },
      );
    await assert.rejects(start(['192.168.50.128/25']), /advertised route 192.168.50.128\/25 overlaps 192.168.50.0\/24/);
    await assert.rejects(start(['10.0.0.0/8', '10.1.0.0/16']), /advertised route 10.1.0.0\/16 overlaps 10.0.0.0\/8/);
    await assert.rejects(start(['10.1.0.1/16']), /host bits set; the network is 10.1.0.0\/16/);
  });
});
