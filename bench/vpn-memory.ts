// The member's memory with many peers: one rolodex and `peers + 1` members, each in its own
// namespace on one bridge; once the first member has a session with every other, its RSS.
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Lab } from '../lab/lab';
import { startMember, startRolodex, type MeshMember } from '../lab/meshboi';
import type { MemberStatus } from '../src/member/status';
import type { MemoryResult } from './vpn-report';

const ESTABLISH_TIMEOUT_MS = 300_000;
/** How long the mesh runs after it is complete, so the figure includes steady-state garbage. */
const SETTLE_MS = 10_000;

async function residentMegabytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(kilobytes) / 1024) * 10) / 10;
}

/** Peer states and the commonest errors, for a mesh that did not complete. */
function describeTrouble(status: MemberStatus): string {
  const count = (keys: Array<string | null>): string => {
    const counts = new Map<string, number>();
    for (const key of keys) if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([key, n]) => `${n}x ${key}`).join(', ') || 'none';
  };
  return `peers by state: ${count(status.peers.map((peer) => peer.state))}; last errors: ${count(status.peers.map((peer) => peer.lastError))}`;
}

export async function measureMemberMemory(peers: number, say: (line: string) => void): Promise<MemoryResult> {
  const names = Array.from({ length: peers + 1 }, (_, index) => `m${index + 1}`);
  const result: MemoryResult = {
    peers_wanted: peers,
    peers_established: 0,
    rss_mb: null,
    status: 'ok',
    method: `${peers + 1} members (meshboi member, default MTU) and one rolodex, each in its own network namespace on one bridge; ` +
      `VmRSS from /proc/<pid>/status of the first member once its status shows ${peers} established sessions, after ${SETTLE_MS / 1000} s more.`,
  };
  const lab = await Lab.create({ public: ['rolodex', ...names] });
  try {
    const rolodexHost = lab.host('rolodex');
    await startRolodex(rolodexHost, { logLevel: 'warn' });
    const psk = randomBytes(24).toString('base64url');
    say(`memory: starting ${names.length} members`);
    const members: MeshMember[] = [];
    // One at a time: starting many at once, each polled with `meshboi status` (a Node.js process
    // per poll) until it answers, starves two cores past the lab's start-up deadline.
    for (const [index, name] of names.entries()) {
      members.push(
        await startMember(lab.host(name), {
          network: 'bench-memory',
          psk,
          vpnIp: `172.30.5.${index + 1}/24`,
          rolodexes: [rolodexHost.address],
          logLevel: 'warn',
          extraArgs: ['--tun-name', 'mbmem0'],
        }),
      );
    }
    const [first, ...others] = members as [MeshMember, ...MeshMember[]];
    say(`memory: waiting for ${first.vpnIp} to establish ${peers} sessions`);
    try {
      await first.waitForEstablished(others.map((member) => member.vpnIp), ESTABLISH_TIMEOUT_MS);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    } catch {
      result.status = 'failed';
    }
    const status = await first.status();
    result.peers_established = status.peers.filter((peer) => peer.state === 'established').length;
    if (result.status === 'failed') result.reason = `only ${result.peers_established} of ${peers} sessions established after ${ESTABLISH_TIMEOUT_MS / 1000} s; ${describeTrouble(status)}`;
    result.rss_mb = await residentMegabytes(first.process.pid);
    const all = await Promise.all(members.map((member) => residentMegabytes(member.process.pid)));
    result.method += ` Across all ${members.length} members: median ${[...all].sort((a, b) => a - b)[all.length >> 1]} MB, largest ${Math.max(...all)} MB.`;
    say(`memory: ${result.rss_mb} MB RSS with ${result.peers_established} established peers`);
  } catch (error) {
    result.status = 'failed';
    result.reason = error instanceof Error ? error.message : String(error);
  } finally {
    await lab.teardown();
  }
  return result;
}
