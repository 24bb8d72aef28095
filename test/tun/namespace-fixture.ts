// Shared by the root-only TUN tests: a uniquely named network namespace that is always removed,
// commands run inside it, and waiting for the first packet a device reads that a test looks for.
import type { TestContext } from 'node:test';
import { newRunId } from '../../lab/names';
import { isRoot, mustRun, runCommand, type CommandResult } from '../../lab/tools';
import type { PacketDevice } from '../../src/tun/device';

/** Skips the test, with the reason printed, unless we are root; true when it skipped. */
export function skipUnlessRoot(t: TestContext): boolean {
  if (isRoot()) return false;
  t.skip('needs root: creates network namespaces and TUN devices');
  return true;
}

/** Runs `body` with a fresh namespace (`mbtun-<pid>-<random>`) and deletes it afterwards, even on failure. */
export async function withNamespace<T>(body: (netns: string) => Promise<T>): Promise<T> {
  const netns = newRunId('mbtun');
  await mustRun('ip', ['netns', 'add', netns]);
  try {
    return await body(netns);
  } finally {
    await runCommand('ip', ['netns', 'delete', netns]);
  }
}

export function runIn(netns: string, command: string, args: string[]): Promise<CommandResult> {
  return runCommand('ip', ['netns', 'exec', netns, command, ...args], { timeoutMs: 20_000 });
}

export async function interfaceExists(netns: string, name: string): Promise<boolean> {
  return (await runCommand('ip', ['-n', netns, 'link', 'show', 'dev', name])).code === 0;
}

/**
 * The kernel's IPv4 neighbour table is shared by every namespace: while a large lab fills it, a
 * send to a new neighbour fails with ENOBUFS. A permanent entry is exempt from that limit.
 */
export async function pinNeighbour(netns: string, device: string, address: string): Promise<void> {
  await mustRun('ip', ['-n', netns, 'neigh', 'replace', address, 'dev', device, 'nud', 'permanent']);
}

/**
 * Resolves with a copy of the first packet the device reads that `wanted` accepts, skipping the
 * rest (router solicitations and the like); rejects after `timeoutMs`.
 */
export function nextPacket(device: PacketDevice, wanted: (packet: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      device.onPackets(() => {});
      reject(new Error(`${device.name} read no matching packet within ${timeoutMs} ms`));
    }, timeoutMs);
    device.onPackets((packets) => {
      const packet = packets.find(wanted);
      if (packet === undefined) return;
      clearTimeout(timer);
      device.onPackets(() => {});
      resolve(Buffer.from(packet));
    });
  });
}
