// openTun checks its options before anything reaches the kernel, so these run without root or a
// built addon: a rejected option never gets as far as opening the (here nonexistent) clone device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTun, TunError, type TunErrorCode, type TunOptions } from '../../src/tun/linux';

const NOWHERE = '/nonexistent/meshboi/tun';

async function refusal(options: TunOptions): Promise<{ code: TunErrorCode; message: string }> {
  try {
    const device = await openTun({ devicePath: NOWHERE, ...options });
    await device.close();
  } catch (error) {
    assert.ok(error instanceof TunError, `expected a TunError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('openTun accepted the options');
}

test('an MTU outside the tun driver range is refused with the allowed range', async () => {
  assert.deepEqual(await refusal({ mtu: 67 }), { code: 'BAD_MTU', message: 'MTU 67 is out of range: a TUN device takes 68 to 65535 bytes' });
  assert.deepEqual(await refusal({ mtu: 65536 }), { code: 'BAD_MTU', message: 'MTU 65536 is out of range: a TUN device takes 68 to 65535 bytes' });
  assert.deepEqual(await refusal({ mtu: 65522, mode: 'tap' }), { code: 'BAD_MTU', message: 'MTU 65522 is out of range: a TAP device takes 68 to 65521 bytes' });
  assert.equal((await refusal({ mtu: 1400.5 })).code, 'BAD_MTU');
});

test('an IPv6 address on a link with an MTU below 1280 is refused', async () => {
  assert.deepEqual(await refusal({ mtu: 1200, addresses: ['192.168.50.1/24', 'fd00::1/64'] }), {
    code: 'BAD_MTU',
    message: 'MTU 1200 is too small for the IPv6 address fd00::1/64: IPv6 needs at least 1280 bytes',
  });
});

test('interface names the kernel would refuse or cut short are refused', async () => {
  for (const name of ['meshboi-tunnel-0', 'a/b', 'a b', 'tun:1', 'mb%d%d', 'mb%s', '..']) {
    const { code, message } = await refusal({ name });
    assert.equal(code, 'BAD_NAME', name);
    assert.match(message, /use at most 15 characters without spaces, "\/" or ":"/);
  }
});

test('addresses and routes need a prefix length, and routes a network address', async () => {
  assert.deepEqual(await refusal({ addresses: ['192.168.50.1'] }), {
    code: 'BAD_ADDRESS',
    message: 'address "192.168.50.1" is not valid: give an address with a prefix length, such as 192.168.50.1/24 or fd00::1/64',
  });
  assert.equal((await refusal({ addresses: ['fd00::zz/64'] })).code, 'BAD_ADDRESS');
  assert.equal((await refusal({ addresses: ['10.0.0.1/33'] })).code, 'BAD_ADDRESS');
  assert.deepEqual(await refusal({ routes: ['10.9.1.0/16'] }), {
    code: 'BAD_ADDRESS',
    message: 'route "10.9.1.0/16" has host bits set: use its network, 10.9.0.0/16',
  });
});

test('a namespace name that is a path is refused', async () => {
  assert.equal((await refusal({ netns: '../etc' })).code, 'NO_NETNS');
});

test('valid options get as far as the clone device', async () => {
  const { code } = await refusal({ name: 'mb%d', mtu: 1280, addresses: ['192.168.50.1/24', 'fd00::1/64'], routes: ['10.9.0.0/16'] });
  assert.ok(code === 'NO_TUN_DEVICE' || code === 'NO_ADDON', code);
});
