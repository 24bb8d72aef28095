// `meshboi member` as a process: start-up errors a person can act on (exit 1 with the reason),
// and as root, in a network namespace of its own, a member that serves `meshboi status`, drops
// root and on SIGTERM exits 0, removing its TUN device and control socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestStatus } from '../../src/control/client';
import type { MemberStatus } from '../../src/member/status';

const MESHBOI = path.resolve(__dirname, '../../cmd/meshboi.js');
const STRONG_PSK = 'mS3y4n9-Qw_Zt8XcVb2LpK7dRf0HgJ6e';
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child without any PSK of ours leaking into it. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('MESHBOI_PSK' in extra)) delete env.MESHBOI_PSK;
  return env;
}

function start(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): ChildProcess {
  return spawn(command, args, { env: options.env ?? childEnv(), uid: options.uid, gid: options.gid, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves when the child exits; kills it (by its pid) if it outlives the timeout. */
function finish(child: ChildProcess, timeoutMs = 15_000): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function meshboi(args: string[], options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): Promise<Outcome> {
  return finish(start(process.execPath, [MESHBOI, ...args], options));
}

const MEMBER_ARGS = ['member', '--network', 'cli-test', '--rolodex-address', '127.0.0.1'];

test('a member without a PSK exits 1 naming the three ways to give one', async () => {
  const outcome = await meshboi([...MEMBER_ARGS, '--vpn-ip', '10.77.0.1/24']);
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.match(outcome.stderr, /no PSK given: give it with --psk-file FILE .*the MESHBOI_PSK environment variable, or --psk PSK/);
});

test('a member with a bad --vpn-ip exits 1 saying what is wrong', async () => {
  const outcome = await meshboi([...MEMBER_ARGS, '--vpn-ip', '10.77.0.1'], { env: childEnv({ MESHBOI_PSK: STRONG_PSK }) });
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.match(outcome.stderr, /bad --vpn-ip "10\.77\.0\.1": the prefix length is missing; give an address with its prefix length, e\.g\./);
});

test('the original\'s `client -network ... -psk ...` form is understood, and --psk warns', async () => {
  const outcome = await meshboi(['client', '-network', 'cli-test', '-psk', STRONG_PSK, '-vpn-ip', '10.77.0.1/33', '-rolodex-address', '127.0.0.1']);
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.match(outcome.stderr, /--psk shows the PSK to every user of this machine in the process list/);
  assert.match(outcome.stderr, /bad --vpn-ip "10\.77\.0\.1\/33"/);
  assert.doesNotMatch(outcome.stderr, new RegExp(STRONG_PSK));
});

test('genpsk prints a fresh 256-bit key each time', async () => {
  const [first, second] = await Promise.all([meshboi(['genpsk']), meshboi(['genpsk'])]);
  assert.equal(first.code, 0);
  assert.match(first.stdout, /^[A-Za-z0-9_-]{43}\n$/);
  assert.notEqual(first.stdout, second.stdout);
});

test('status without a running member exits 1 and says how to pick one', async () => {
  const outcome = await meshboi(['status', '--control-socket', path.join(os.tmpdir(), `meshboi-none-${process.pid}.sock`)]);
  assert.equal(outcome.code, 1);
  assert.match(outcome.stderr, /no member is running with this control socket; start `meshboi member`/);
});

test('a member started without root exits 1 saying it needs root or CAP_NET_ADMIN', async (t) => {
  if (!isRoot) return t.skip('needs root: runs the member as user nobody to show the not-root error');
  const outcome = await meshboi([...MEMBER_ARGS, '--vpn-ip', '10.77.0.1/24'], {
    env: childEnv({ MESHBOI_PSK: STRONG_PSK }),
    uid: NOBODY,
    gid: NOBODY,
  });
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.match(outcome.stderr, /needs root \(or the CAP_NET_ADMIN capability\) to create TUN device tun; run it with sudo/);
});

/** A network namespace of our own, removed in `dispose` even if the test failed. */
function createNetns(): { name: string; exec(args: string[]): string[]; dispose(): void } {
  const name = `mbcli-${process.pid}-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    exec: (args) => ['netns', 'exec', name, ...args],
    dispose: () => execFileSync('ip', ['netns', 'del', name]),
  };
}

test('an unresolvable rolodex name stops the member with the name and what to check', async (t) => {
  if (!isRoot) return t.skip('needs root: resolves inside a network namespace so no DNS query leaves this machine');
  const netns = createNetns();
  try {
    const outcome = await finish(
      start('ip', netns.exec([process.execPath, MESHBOI, 'member', '--network', 'cli-test', '--vpn-ip', '10.77.0.1/24', '--rolodex-address', 'rolodex.invalid:7000']), {
        env: childEnv({ MESHBOI_PSK: STRONG_PSK }),
      }),
    );
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stderr, /cannot resolve rolodex address "rolodex\.invalid:7000": .*check the name, or give the rolodex's IP address/);
  } finally {
    netns.dispose();
  }
});

async function waitForStatus(socketPath: string, child: ChildProcess, timeoutMs = 15_000): Promise<MemberStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the member exited before answering status');
    try {
      return await requestStatus(socketPath, 1_000);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function procStatusField(pid: number, field: string): string {
  const match = new RegExp(`^${field}:[ \\t]*([^\\n]*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? match[1].trim().split(/\s+/).join(' ') : '';
}

function linkExists(netns: string, device: string): boolean {
  try {
    execFileSync('ip', ['-n', netns, 'link', 'show', device], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface RunningMember {
  netns: string;
  member: ChildProcess;
  socketPath: string;
  status: MemberStatus;
  /** The arguments it was started with, for starting a twin. */
  args: string[];
}

/**
 * Starts a member in a namespace of its own, hands it to `body` once it answers status, then
 * stops it with `signal` and checks that it exited 0 leaving no TUN device and no control socket.
 */
async function withMemberInNetns(
  options: { vpnIp: string; tunName: string; extraArgs?: string[]; pskInEnv?: boolean; signal: NodeJS.Signals },
  body: (running: RunningMember) => Promise<void>,
): Promise<void> {
  const netns = createNetns();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-cli-'));
  let member: ChildProcess | null = null;
  try {
    const pskFile = path.join(directory, 'psk');
    fs.writeFileSync(pskFile, `${STRONG_PSK}\n`, { mode: 0o600 });
    // A directory that does not exist yet: the member creates it 0700 and hands it to --user,
    // who must be able to remove the socket at exit (and so to pass through its parent, as with /run).
    fs.chmodSync(directory, 0o711);
    const socketPath = path.join(directory, 'run', `${options.tunName}.sock`);
    const args = ['--network', 'cli-test', '--vpn-ip', options.vpnIp, '--rolodex-address', '127.0.0.1:6264', '--control-socket', socketPath];
    if (!options.pskInEnv) args.push('--psk-file', pskFile);
    const env = childEnv(options.pskInEnv ? { MESHBOI_PSK: STRONG_PSK } : {});
    const started = start('ip', netns.exec([process.execPath, MESHBOI, 'member', ...args, '--tun-name', options.tunName, ...(options.extraArgs ?? [])]), { env });
    member = started;
    const exited = finish(started, 60_000);
    const status = await waitForStatus(socketPath, started);
    assert.ok(linkExists(netns.name, options.tunName));

    await body({ netns: netns.name, member: started, socketPath, status, args });

    started.kill(options.signal);
    const outcome = await exited;
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stderr, new RegExp(`stopping signal=${options.signal}`));
    assert.equal(linkExists(netns.name, options.tunName), false);
    assert.equal(fs.existsSync(socketPath), false, outcome.stderr);
    assert.doesNotMatch(outcome.stderr, new RegExp(STRONG_PSK));
  } finally {
    if (member && member.exitCode === null && member.signalCode === null) member.kill('SIGKILL');
    netns.dispose();
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

test('a member in its own namespace answers status, drops to nobody, refuses a twin, and exits 0 on SIGTERM leaving nothing behind', async (t) => {
  if (!isRoot) return t.skip('needs root: creates a network namespace and a TUN device');
  const options = { vpnIp: '10.77.0.1/24', tunName: 'mbcli0', extraArgs: ['--user', 'nobody'], signal: 'SIGTERM' as const };
  await withMemberInNetns(options, async ({ netns, member, socketPath, status, args }) => {
    assert.equal(status.network, 'cli-test');
    assert.equal(status.vpnIp, '10.77.0.1');
    assert.deepEqual(status.tun, { name: 'mbcli0', mtu: 1200 });
    assert.deepEqual(status.rolodexes.map((rolodex) => rolodex.address), ['127.0.0.1:6264']);

    const json = await meshboi(['status', '--json', '--control-socket', socketPath]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as MemberStatus).network, 'cli-test');
    const table = await meshboi(['status', '--control-socket', socketPath]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^network cli-test {2}vpn-ip 10\.77\.0\.1 /);
    assert.match(table.stdout, /rolodexes \(1\):\n {2}ADDRESS +LAST MAP +REACHABLE\n {2}127\.0\.0\.1:6264 /);

    assert.equal(procStatusField(member.pid!, 'Uid'), `${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`);
    assert.equal(procStatusField(member.pid!, 'Gid'), `${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`);
    assert.equal(procStatusField(member.pid!, 'Groups'), '');
    const socketStat = fs.lstatSync(socketPath);
    assert.equal(socketStat.mode & 0o777, 0o600);
    assert.equal(socketStat.uid, NOBODY);
    assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
    assert.match(execFileSync('ip', ['-n', netns, 'addr', 'show', 'dev', 'mbcli0'], { encoding: 'utf8' }), /inet 10\.77\.0\.1\/24 /);

    const twin = await finish(start('ip', ['netns', 'exec', netns, process.execPath, MESHBOI, 'member', ...args, '--tun-name', 'mbcli1']));
    assert.equal(twin.code, 1, twin.stderr);
    assert.match(twin.stderr, /control socket .*mbcli0\.sock is in use by a running member; stop that member first/);
    assert.equal(linkExists(netns, 'mbcli1'), false);
  });
});

test('a member with an IPv6 VPN address gets the IPv6 minimum MTU and exits 0 on SIGINT', async (t) => {
  if (!isRoot) return t.skip('needs root: creates a network namespace and a TUN device');
  const options = { vpnIp: 'fd00:6d62::1/64', tunName: 'mbcli6', pskInEnv: true, signal: 'SIGINT' as const };
  await withMemberInNetns(options, async ({ netns, status }) => {
    assert.equal(status.vpnIp, 'fd00:6d62::1');
    assert.deepEqual(status.tun, { name: 'mbcli6', mtu: 1280 });
    assert.match(execFileSync('ip', ['-n', netns, 'addr', 'show', 'dev', 'mbcli6'], { encoding: 'utf8' }), /inet6 fd00:6d62::1\/64 /);
  });
});
