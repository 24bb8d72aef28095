// A real TUN device in a throwaway namespace: packets the kernel routes in reach JavaScript
// intact, packets JavaScript writes reach the kernel, and closing stops delivery and deletes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTun } from '../../src/tun/linux';
import { interfaceExists, nextPacket, pinNeighbour, runIn, skipUnlessRoot, withNamespace } from './namespace-fixture';
import { icmpEcho, readEcho, readIp } from './packets';

const TUN_V4 = '10.77.0.1';
const PEER_V4 = '10.77.0.2';
const TUN_V6 = 'fd77::1';
const PEER_V6 = 'fd77::2';
const ADDRESSES = [`${TUN_V4}/24`, `${TUN_V6}/64`];

for (const [family, source, destination] of [
  ['IPv4', TUN_V4, PEER_V4],
  ['IPv6', TUN_V6, PEER_V6],
] as const) {
  test(`an ${family} packet the kernel routes into the TUN arrives in JavaScript intact`, async (t) => {
    if (skipUnlessRoot(t)) return;
    await withNamespace(async (netns) => {
      const device = await openTun({ name: 'mbt0', netns, addresses: ADDRESSES, mtu: 1400 });
      try {
        await pinNeighbour(netns, device.name, destination);
        const isEcho = (packet: Buffer) => readIp(packet)?.destination === destination;
        const arrival = nextPacket(device, isEcho);
        // 1,000 bytes of a repeating pattern: a truncated or shifted packet would fail the checksums.
        await runIn(netns, 'ping', ['-c', '1', '-W', '1', '-s', '1000', '-p', Buffer.from('meshboi').toString('hex'), destination]);
        const ip = readIp(await arrival);
        assert.ok(ip);
        assert.equal(ip.source, source);
        assert.equal(ip.checksumsValid, true);
        const echo = readEcho(ip);
        assert.ok(echo && !echo.reply);
        assert.equal(echo.data.length, 1000);
        // ping fills the data with the pattern from its start, then overwrites 16 bytes with a timestamp.
        const expected = Buffer.alloc(1000, 'meshboi');
        assert.deepEqual(Buffer.from(echo.data).subarray(16), expected.subarray(16));
        assert.equal(device.counters.readErrors, 0);
      } finally {
        await device.close();
      }
    });
  });

  test(`an ${family} echo request written by JavaScript is answered by the kernel`, async (t) => {
    if (skipUnlessRoot(t)) return;
    await withNamespace(async (netns) => {
      const device = await openTun({ name: 'mbt0', netns, addresses: ADDRESSES });
      try {
        await pinNeighbour(netns, device.name, destination);
        const data = Buffer.from('written by meshboi');
        const isReply = (packet: Buffer) => {
          const ip = readIp(packet);
          return ip !== null && ip.destination === destination && readEcho(ip)?.reply === true;
        };
        const replies = [nextPacket(device, isReply)];
        device.write(icmpEcho(destination, source, { identifier: 0x4d42, sequence: 1, data }));
        const ip = readIp(await replies[0]);
        assert.ok(ip);
        assert.equal(ip.source, source);
        assert.equal(ip.checksumsValid, true);
        assert.deepEqual(readEcho(ip), { reply: true, identifier: 0x4d42, sequence: 1, data });

        const batchReply = nextPacket(device, (packet) => isReply(packet) && readEcho(readIp(packet)!)?.sequence === 3);
        device.writeBatch([2, 3].map((sequence) => icmpEcho(destination, source, { identifier: 0x4d42, sequence, data })));
        await batchReply;
        assert.equal(device.counters.packetsWritten, 3);
        assert.equal(device.counters.writeDropsRejected, 0);
      } finally {
        await device.close();
      }
    });
  });
}

test('destinations given as routes, IPv4 and IPv6, are routed into the device', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    const device = await openTun({ name: 'mbt0', netns, addresses: ADDRESSES, routes: ['10.99.0.0/16', 'fd99::/64'] });
    try {
      for (const destination of ['10.99.3.4', 'fd99::34']) {
        await pinNeighbour(netns, device.name, destination);
        const arrival = nextPacket(device, (packet) => readIp(packet)?.destination === destination);
        await runIn(netns, 'ping', ['-c', '1', '-W', '1', destination]);
        assert.equal(readEcho(readIp(await arrival)!)?.reply, false);
      }
    } finally {
      await device.close();
    }
  });
});

test('a packet the kernel rejects is counted as a drop, not thrown', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    const device = await openTun({ netns, addresses: ADDRESSES });
    try {
      // IP version 0: a TUN device only takes IPv4 and IPv6.
      // write() queues until the turn's microtasks run; writeBatch() writes the queue first.
      device.write(Buffer.alloc(60));
      assert.equal(device.counters.writeDropsRejected, 0);
      device.writeBatch([Buffer.alloc(40), Buffer.alloc(40)]);
      const counters = device.counters;
      assert.equal(counters.writeDropsRejected, 3);
      assert.equal(counters.packetsWritten, 0);
    } finally {
      await device.close();
    }
  });
});

test('the kernel names a device opened without a name, and closing it deletes the interface', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    const tun = await openTun({ netns });
    const tap = await openTun({ netns, mode: 'tap' });
    try {
      assert.match(tun.name, /^tun\d+$/);
      assert.match(tap.name, /^tap\d+$/);
      assert.equal(await interfaceExists(netns, tun.name), true);
    } finally {
      await tun.close();
      await tap.close();
    }
    assert.equal(await interfaceExists(netns, tun.name), false);
    assert.equal(await interfaceExists(netns, tap.name), false);
  });
});

test('no packet reaches the handler once close was called, and close can be repeated', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    const device = await openTun({ name: 'mbt0', netns, addresses: ADDRESSES });
    await pinNeighbour(netns, device.name, PEER_V4);
    let batchesAfterClose = 0;
    let closed = false;
    const firstBatch = new Promise<void>((resolve) => {
      device.onPackets(() => {
        if (closed) batchesAfterClose++;
        closed = true;
        void device.close();
        resolve();
      });
    });
    // Twenty echo requests 10 ms apart: most are still to come when the first one closes the device.
    const flood = runIn(netns, 'ping', ['-c', '20', '-i', '0.01', '-W', '1', PEER_V4]);
    await firstBatch;
    await flood;
    await device.close();
    assert.equal(batchesAfterClose, 0);
    assert.equal(await interfaceExists(netns, 'mbt0'), false);
  });
});
