// startMember refuses a configuration it cannot run with, saying what was wrong and what to do,
// before it touches the socket or the device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMember, type MemberConfig } from '../../src/member/main';
import { MemoryNetwork } from '../../src/net/memory-network';
import { ChannelDevice } from '../../src/tun/channel-device';

const good: MemberConfig = {
  network: 'testnet',
  psk: Buffer.from('correct horse battery staple'),
  vpnIp: '192.168.50.1',
  vpnPrefixLength: 24,
  rolodexes: [{ address: '198.51.100.1', port: 6264 }],
};

test('a bad VPN IP, prefix length, empty PSK or missing rolodex is refused with advice', async () => {
  const network = new MemoryNetwork();
  const transport = network.attach('192.0.2.10');
  const device = new ChannelDevice();
  const io = { transport, device };
  await assert.rejects(startMember({ ...good, vpnIp: '192.168.50.300' }, io), /VPN IP "192\.168\.50\.300" is not an IPv4 or IPv6 address: give one like/);
  await assert.rejects(startMember({ ...good, vpnPrefixLength: 33 }, io), /prefix length 33 is not between 0 and 32/);
  await assert.rejects(startMember({ ...good, psk: Buffer.alloc(0) }, io), /the PSK is empty: give one with --psk-file/);
  await assert.rejects(startMember({ ...good, rolodexes: [] }, io), /no rolodex given: add --rolodex-address/);
  assert.equal(network.delivered + network.dropped, 0, 'nothing was sent');
  await transport.close();
});
