// A real TAP device carries Ethernet frames: JavaScript sees the kernel's ARP request and its
// answer teaches the kernel our MAC address, to which the kernel then sends the IP packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTun } from '../../src/tun/linux';
import { runCommand } from '../../lab/tools';
import { nextPacket, runIn, skipUnlessRoot, withNamespace } from './namespace-fixture';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, arp, ethernet, readArp, readEcho, readEthernet, readIp } from './packets';

const TAP_IP = '10.78.0.1';
const PEER_IP = '10.78.0.2';
const PEER_MAC = '02:6d:62:00:00:02';

test('a TAP device sees the kernel ARP for a neighbour and its reply is believed', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    const device = await openTun({ name: 'mbtap0', mode: 'tap', netns, addresses: [`${TAP_IP}/24`] });
    try {
      const isArpRequest = (frame: Buffer) => {
        const ethernetFrame = readEthernet(frame);
        return ethernetFrame?.type === ETHERTYPE_ARP && readArp(ethernetFrame.payload)?.targetIp === PEER_IP;
      };
      const request = nextPacket(device, isArpRequest);
      const ping = runIn(netns, 'ping', ['-c', '1', '-W', '3', PEER_IP]);
      const frame = readEthernet(await request)!;
      const question = readArp(frame.payload)!;
      assert.equal(frame.destination, 'ff:ff:ff:ff:ff:ff');
      assert.equal(question.operation, 'request');
      assert.equal(question.senderIp, TAP_IP);
      assert.equal(question.senderMac, frame.source);

      const isEchoToUs = (candidate: Buffer) => {
        const ethernetFrame = readEthernet(candidate);
        if (ethernetFrame?.type !== ETHERTYPE_IPV4 || ethernetFrame.destination !== PEER_MAC) return false;
        const ip = readIp(ethernetFrame.payload);
        return ip !== null && ip.destination === PEER_IP && readEcho(ip)?.reply === false;
      };
      const echo = nextPacket(device, isEchoToUs);
      const answer = arp({ operation: 'reply', senderMac: PEER_MAC, senderIp: PEER_IP, targetMac: question.senderMac, targetIp: TAP_IP });
      device.write(ethernet(question.senderMac, PEER_MAC, ETHERTYPE_ARP, answer));
      await echo;
      await ping;
      const neighbours = await runCommand('ip', ['-n', netns, 'neigh', 'show', PEER_IP, 'dev', 'mbtap0']);
      assert.match(neighbours.stdout, new RegExp(`lladdr ${PEER_MAC}`));
    } finally {
      await device.close();
    }
  });
});
