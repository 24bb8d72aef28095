// The lab of issue 12's end-to-end tests (relays.test.ts, rolodex-relay.test.ts): members behind
// NATs that keep stray conntrack state (two behind different ones, two behind one), two behind
// symmetric NATs, a pair whose UDP to each other is blocked, each NAT one transit router from the
// internet; and the check both tests make: every ordered pair pings within 30 s of start, pairs
// that can go direct are direct within 60 s, printing which pairs are direct and which relayed.
import assert from 'node:assert/strict';
import { pingMatrix, renderPingMatrix, waitFor, type MeshMember } from '../../lab/meshboi';
import type { TopologyDescription } from '../../lab/topology';
import type { MemberStatus } from '../../src/member/status';

const STRAY = { kind: 'cone', inputFilter: false } as const;

/** The NATed hosts of the lab, and the topology with `publicHosts` (the rolodex, relay members) beside them. */
export const NATTED_HOSTS = ['a', 'b', 'c1', 'c2', 'y1', 'y2', 'p1', 'p2'];

export function relayLab(publicHosts: string[]): TopologyDescription {
  return {
    public: publicHosts,
    nats: {
      sa: { ...STRAY, hosts: ['a'] },
      sb: { ...STRAY, hosts: ['b'] },
      sc: { ...STRAY, hosts: ['c1', 'c2'] },
      ya: { kind: 'symmetric', hosts: ['y1'] },
      yb: { kind: 'symmetric', hosts: ['y2'] },
      pa: { kind: 'cone', hosts: ['p1'] },
      pb: { kind: 'cone', hosts: ['p2'] },
    },
    transit: { sa: 1, sb: 1, sc: 1, ya: 1, yb: 1, pa: 1, pb: 1 },
    blockUdp: [['pa', 'pb']],
  };
}

/** Pairs no punching connects: a symmetric NAT with any other NAT, and the blocked pair. */
export function mustRelay(one: string, other: string): boolean {
  const pair = [one, other].sort().join('-');
  if (pair === 'p1-p2') return true;
  const symmetric = (name: string): boolean => name.startsWith('y');
  const natted = (name: string): boolean => NATTED_HOSTS.includes(name);
  return (symmetric(one) && natted(other)) || (symmetric(other) && natted(one));
}

/** The member running on `host`. */
export function member(members: MeshMember[], host: string): MeshMember {
  const found = members.find((candidate) => candidate.name === host);
  if (!found) throw new Error(`no member on ${host}`);
  return found;
}

/** Every member's status, one `meshboi status` at a time: ten at once every few hundred ms would load the machine more than the members do. */
export async function statuses(members: MeshMember[]): Promise<MemberStatus[]> {
  const all: MemberStatus[] = [];
  for (const member of members) all.push(await member.status());
  return all;
}

/** "direct", "relay 192.168.50.x", "relay rolodex ADDRESS" or "none", per ordered pair, from each member's status. */
export function paths(members: MeshMember[], statuses: MemberStatus[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const [index, from] of members.entries()) {
    for (const to of members) {
      if (to === from) continue;
      const peer = statuses[index].peers.find((each) => each.vpnIp === to.vpnIp && each.state === 'established');
      found.set(`${from.name}>${to.name}`, peer === undefined ? 'none' : peer.path === 'relay' ? `relay ${peer.relay}` : 'direct');
    }
  }
  return found;
}

export function renderPaths(members: MeshMember[], found: Map<string, string>): string {
  return members.map((from) => `${from.name.padEnd(7)} ${members.filter((to) => to !== from).map((to) => `${to.name}:${found.get(`${from.name}>${to.name}`)}`).join('  ')}`).join('\n');
}

/**
 * Every ordered pair holds a session within 30 s of `startedAt` and pings; then pairs that can go
 * direct are direct (the others relayed) within 60 s. Prints the pings and paths; returns the paths.
 */
export async function expectEveryPairConnected(members: MeshMember[], startedAt: number): Promise<Map<string, string>> {
  await waitFor('every member to hold a session with every other', 30_000 - (Date.now() - startedAt), async () => {
    const missing = [...paths(members, await statuses(members)).entries()].filter(([, path]) => path === 'none').map(([pair]) => pair);
    if (missing.length > 0) throw new Error(`no session yet: ${missing.join(' ')}`);
    return true;
  }, 1_000);
  const pings = await pingMatrix(members, 2);
  const connectedAfterS = ((Date.now() - startedAt) / 1_000).toFixed(1);
  process.stdout.write(`# every pair established, pinged ${connectedAfterS} s after start:\n${renderPingMatrix(members, pings)}\n`);
  assert.ok(Date.now() - startedAt < 30_000 + 10_000, 'the pings themselves take a few seconds');
  for (const ping of pings) assert.ok(ping.received >= 1, `${ping.from} -> ${ping.to}: ${ping.received}/${ping.transmitted}`);
  process.stdout.write(`# paths once connected:\n${renderPaths(members, paths(members, await statuses(members)))}\n`);

  const settled = await waitFor('pairs that can go direct to be direct', 60_000 - (Date.now() - startedAt), async () => {
    const found = paths(members, await statuses(members));
    const waiting = [...found.entries()].filter(([pair, path]) => {
      const [from, to] = pair.split('>');
      return mustRelay(from, to) ? !path.startsWith('relay') : path !== 'direct';
    });
    if (waiting.length > 0) throw new Error(waiting.map(([pair, path]) => `${pair}:${path}`).join(' '));
    return found;
  }, 1_000);
  process.stdout.write(`# paths ${((Date.now() - startedAt) / 1_000).toFixed(1)} s after start:\n${renderPaths(members, settled)}\n`);
  return settled;
}
