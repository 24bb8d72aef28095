// Lab teardown leaves nothing behind: not after a normal run, not after Ctrl-C, and after a crash
// `lab:cleanup` removes the leftovers while leaving labs of live runs alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cleanupLeftovers } from '../../lab/cleanup';
import { Lab } from '../../lab/lab';
import { runFolder } from '../../lab/names';
import { mustRun, skipUnlessRoot } from '../../lab/tools';
import { eventually } from '../support/wait';

const skip = skipUnlessRoot('builds network namespaces');
const LAB_MODULE = path.join(__dirname, '../../lab/lab.js');

/** A process counts as gone once it no longer exists or is a zombie waiting for a reaper. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function namespacesOf(runId: string): Promise<string[]> {
  const listing = await mustRun('ip', ['netns', 'list']);
  return listing
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(`${runId}-`));
}

interface ChildLab {
  runId: string;
  pids: number[];
  exited: Promise<number | null>;
  pid: number;
}

/** Builds a lab in a separate node process that then waits to be signalled, as a test or the demo would. */
async function labInChild(prefix: string): Promise<ChildLab> {
  const script = `
    const { Lab } = require(${JSON.stringify(LAB_MODULE)});
    Lab.create({ public: ['p'], nats: { n: { kind: 'cone', hosts: ['h'] } }, loss: { h: 10 } }, { prefix: ${JSON.stringify(prefix)} }).then((lab) => {
      const sleeper = lab.host('h').spawn('sleep', ['600']);
      console.log(JSON.stringify({ runId: lab.runId, pids: [sleeper.pid] }));
      setInterval(() => {}, 1000);
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) resolve(text.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`lab child exited with ${code} before building its lab`)));
  });
  const parsed = JSON.parse(line) as { runId: string; pids: number[] };
  return { ...parsed, exited, pid: child.pid ?? 0 };
}

test('teardown kills every process by pid and leaves no namespace, interface, nft table or run folder', { skip }, async () => {
  const lab = await Lab.create({ public: ['p'], nats: { n: { kind: 'symmetric', hosts: ['h'] } }, loss: { h: 10 } });
  const direct = lab.host('p').spawn('sleep', ['600']);
  // The backgrounded sleep is a grandchild the lab never saw: teardown finds it through `ip netns pids`.
  const shell = lab.host('h').spawn('sh', ['-c', 'sleep 600 & echo $!; wait']);
  await eventually('the shell printed its child pid', () => /^\d+\n/.test(shell.output()));
  const grandchild = Number(shell.output().trim());
  assert.equal((await namespacesOf(lab.runId)).length, 4);
  assert.ok(existsSync(lab.folder));

  await lab.teardown();

  assert.deepEqual(await namespacesOf(lab.runId), []);
  await eventually('every process is gone', () => !alive(direct.pid) && !alive(shell.pid) && !alive(grandchild));
  assert.equal(existsSync(lab.folder), false);
  const rootLinks = await mustRun('ip', ['-o', 'link', 'show']);
  assert.doesNotMatch(rootLinks, /^\d+: (internet|lan|port\d+)[@:]/m, 'the lab creates links only inside its namespaces');
  const rootTables = await mustRun('nft', ['list', 'tables']);
  assert.doesNotMatch(rootTables, /meshboi_lab/);
  await lab.teardown();
});

test('Ctrl-C on a process that owns a lab tears the lab down before it exits', { skip }, async () => {
  const child = await labInChild('mbsigint');
  assert.equal((await namespacesOf(child.runId)).length, 4);
  process.kill(child.pid, 'SIGINT');
  assert.equal(await child.exited, 130);
  assert.deepEqual(await namespacesOf(child.runId), []);
  await eventually('the lab processes are gone', () => child.pids.every((pid) => !alive(pid)));
  assert.equal(existsSync(runFolder(child.runId)), false);
});

test('after a crash, cleanup removes the run leftovers by prefix and keeps the labs of live runs', { skip }, async () => {
  const crashed = await labInChild('mbcrash');
  const live = await Lab.create({ public: ['p'] }, { prefix: 'mbcrash' });
  try {
    process.kill(crashed.pid, 'SIGKILL');
    await crashed.exited;
    assert.equal((await namespacesOf(crashed.runId)).length, 4, 'a killed run cannot tear itself down');
    assert.ok(crashed.pids.every(alive));

    const result = await cleanupLeftovers({ prefix: 'mbcrash' });

    assert.deepEqual(await namespacesOf(crashed.runId), []);
    assert.equal(result.removedNamespaces.length, 4);
    assert.ok(result.removedFolders.includes(crashed.runId));
    await eventually('the crashed run processes are gone', () => crashed.pids.every((pid) => !alive(pid)));
    assert.deepEqual((await namespacesOf(live.runId)).sort(), live.namespaces().sort(), 'the live lab is untouched');
    assert.ok(result.keptNamespaces.includes(live.host('p').namespace));
  } finally {
    await live.teardown();
  }
});
