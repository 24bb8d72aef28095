// Each way opening a TUN device fails on a real kernel ends in a TunError whose message says what
// to do, and leaves no interface behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openTun, TunError, type TunErrorCode } from '../../src/tun/linux';
import { interfaceExists, runIn, skipUnlessRoot, withNamespace } from './namespace-fixture';

const LINUX_MODULE = path.join(__dirname, '..', '..', 'src', 'tun', 'linux.js');

function isTunError(code: TunErrorCode, message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TunError, `expected a TunError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

test('a missing clone device says to load the tun module or pass the device to the container', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    await assert.rejects(
      openTun({ name: 'mbt0', netns, devicePath: `/dev/net/no-tun-${process.pid}` }),
      isTunError('NO_TUN_DEVICE', /tun module is not loaded or the container lacks the device: run `modprobe tun`, or `docker run --device \/dev\/net\/tun`/),
    );
    assert.equal(await interfaceExists(netns, 'mbt0'), false);
  });
});

test('without CAP_NET_ADMIN the error says root or CAP_NET_ADMIN is needed', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    // A child process that is still uid 0 but has dropped CAP_NET_ADMIN for good.
    const script = `require(${JSON.stringify(LINUX_MODULE)}).openTun({ name: 'mbt0' }).then(
      (device) => { console.log(JSON.stringify({ opened: device.name })); return device.close(); },
      (error) => console.log(JSON.stringify({ code: error.code, message: error.message })))`;
    const dropCapability = ['--inh-caps=-net_admin', '--bounding-set=-net_admin'];
    const child = await runIn(netns, 'setpriv', [...dropCapability, process.execPath, '-e', script]);
    assert.equal(child.code, 0, child.stderr);
    const outcome = JSON.parse(child.stdout) as { code?: string; message?: string };
    assert.equal(outcome.code, 'PERMISSION');
    assert.match(outcome.message ?? '', /needs root or CAP_NET_ADMIN: run with sudo/);
    assert.equal(await interfaceExists(netns, 'mbt0'), false);
  });
});

test('a name already taken, by a TUN device or any other interface, is reported as in use', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    const first = await openTun({ name: 'mbt0', netns });
    try {
      for (const name of ['mbt0', 'lo']) {
        await assert.rejects(
          openTun({ name, netns }),
          isTunError('NAME_IN_USE', new RegExp(`interface name "${name}" is already in use: choose another name, or remove the old interface with \`ip link delete ${name}\``)),
        );
      }
      // The refused second open must not have attached to, or taken down, the first device.
      assert.equal(await interfaceExists(netns, 'mbt0'), true);
    } finally {
      await first.close();
    }
  });
});

test('a namespace that does not exist is named with the command that creates it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const netns = `mbtun-missing-${process.pid}`;
  await assert.rejects(openTun({ netns }), isTunError('NO_NETNS', new RegExp(`network namespace "${netns}" does not exist: create it with \`ip netns add ${netns}\``)));
});

test('a link configuration that fails closes the device again and says which ip command failed', async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNamespace(async (netns) => {
    await assert.rejects(
      openTun({ name: 'mbt0', netns, addresses: ['10.79.0.1/24', '10.79.0.1/24'] }),
      isTunError('LINK_CONFIG', /`ip -n \S+ address add 10.79.0.1\/24 dev mbt0` failed: .*already assigned/),
    );
    assert.equal(await interfaceExists(netns, 'mbt0'), false);
  });
});
