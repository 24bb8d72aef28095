// meshboi itself: a rolodex on host B and one member on each host, driven through the real CLI,
// at its default TUN MTU (1200, raised toward the peer by path MTU probing), at the largest MTU its own members carry between them, or through a
// relay member, or a rolodex started with --relay, on a third host (UDP between the two members'
// ports dropped, docs/relays.md).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LabHost } from '../lab/host';
import { startMember, startRolodex, waitFor, type MeshMember } from '../lab/meshboi';
import { PEER_MTU_CEILING } from '../src/tun/device';
import { assertRunning, routeMtu, waitForPath, type HostPair, type Tunnel, type TunnelTool } from './vpn-tunnel';

const DEFAULT_MTU = 1200;
/** Probed downwards from here: a DTLS record carries at most 2^14 bytes of plaintext (RFC 6347
 * 4.1, RFC 5246 6.2.1), so no packet above it can cross in one record. */
const LARGEST_CANDIDATE_MTU = 16_384;
const ICMP_AND_IP_HEADERS = 28;
const ESTABLISH_TIMEOUT_MS = 30_000;
/** Size probes go out within a second of the session and are retried twice, 2 s apart. */
const RAISE_TIMEOUT_MS = 10_000;

interface Variant {
  name: string;
  /** A fixed MTU, or 'largest' to find the largest one our members carry. */
  mtu: number | 'largest';
  /** Distinct per variant so both can run in one lab at once. */
  rolodexPort: number;
  tunName: string;
  subnet: string;
  /** Through a relay member, or a rolodex with --relay, on the third host, direct UDP between the members blocked. */
  relayed?: 'member' | 'rolodex';
  /** With --no-mtu-probe: every packet at most the TUN MTU, as before path MTU probing. */
  fixedMtu?: boolean;
}

/** Fixed member ports of a relayed variant (one pair per port base), so host A's firewall can drop exactly their direct UDP. */
const RELAYED_PORTS = { member: [6301, 6302], rolodex: [6303, 6304] } as const;
/**
 * The rolodex relay's budgets in the bench, per second and at once: far above what one pair moves,
 * so the figures show the relay's cost, not its limits (docs/relays.md has the defaults).
 */
const BENCH_ROLODEX_RELAY_BUDGET = '1000000000';

export interface ProfiledMember {
  label: string;
  pid: number;
}

/** Set by `--profile`: the environment that makes a member profile itself, and the members that got it. */
let profileEnvironment: NodeJS.ProcessEnv | null = null;
const profiledMembers: ProfiledMember[] = [];

/** From now on members run with the CPU profiler, writing into `directory`; returns the list they join. */
export function profileMembers(directory: string): readonly ProfiledMember[] {
  profileEnvironment = {
    NODE_OPTIONS: `--require ${JSON.stringify(path.join(__dirname, 'vpn-profile-hook.js'))}`,
    MESHBOI_BENCH_PROFILE_DIR: directory,
  };
  return profiledMembers;
}

let version: string | undefined;

/** Our version and commit, read once: others may commit while a run is under way. */
function meshboiVersion(): string {
  if (version !== undefined) return version;
  const root = path.resolve(__dirname, '..', '..');
  const { version: packageVersion } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    version = `meshboi ${packageVersion} (${commit})`;
  } catch {
    version = `meshboi ${packageVersion}`;
  }
  return version;
}

async function startPair(pair: HostPair, variant: Variant, mtu: number, third: LabHost): Promise<{ members: MeshMember[]; daemons: Tunnel['daemons'] }> {
  const [client, server] = pair;
  const throughRolodex = variant.relayed === 'rolodex';
  const rolodexHost = throughRolodex ? third : server;
  const rolodexArgs = throughRolodex ? ['--relay', '--relay-network-budget', BENCH_ROLODEX_RELAY_BUDGET, '--relay-endpoint-budget', BENCH_ROLODEX_RELAY_BUDGET] : [];
  const rolodex = await startRolodex(rolodexHost, { port: variant.rolodexPort, logLevel: 'warn', extraArgs: rolodexArgs });
  const psk = randomBytes(24).toString('base64url');
  if (variant.relayed) await blockDirect(client, server, variant.rolodexPort, RELAYED_PORTS[variant.relayed]);
  const relay = variant.relayed === 'member' ? await startRelay(server, third, variant, psk, mtu) : null;
  // The profiling environment is set only while startMember runs synchronously: it spawns the
  // member (and its first status probe) before it first awaits. Profiles are picked by pid.
  const saved = { ...process.env };
  if (profileEnvironment) Object.assign(process.env, profileEnvironment);
  const starting = pair.map((host, index) =>
    startMember(host, {
      network: `bench-${variant.name}`,
      psk,
      vpnIp: `${variant.subnet}.${index + 1}/24`,
      rolodexes: [`${rolodexHost.address}:${variant.rolodexPort}`],
      logLevel: 'warn',
      listenPort: variant.relayed ? RELAYED_PORTS[variant.relayed][index] : 0,
      extraArgs: ['--tun-name', variant.tunName, '--tun-mtu', String(mtu), ...(variant.fixedMtu ? ['--no-mtu-probe'] : [])],
    }),
  );
  for (const name of Object.keys(profileEnvironment ?? {})) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  const members = await Promise.all(starting);
  const [first, second] = members as [MeshMember, MeshMember];
  await first.waitForEstablished([second.vpnIp], ESTABLISH_TIMEOUT_MS);
  if (variant.relayed) {
    const peer = await first.peer(second.vpnIp);
    const expected = throughRolodex ? `rolodex ${rolodexHost.address}:${variant.rolodexPort}` : relay?.vpnIp;
    if (peer?.path !== 'relay' || peer.relay !== expected) {
      throw new Error(`the relayed variant's members reached each other ${peer?.path ?? 'somehow'} ${peer?.relay ?? ''}, not through ${expected}`);
    }
  }
  const daemons = [...members.map((member) => member.process), rolodex, ...(relay ? [relay.process] : [])];
  if (!variant.relayed && !variant.fixedMtu && mtu < PEER_MTU_CEILING) await waitForRaisedMtu(members);
  await waitForPath(client, second.vpnIp, variant.tunName, daemons);
  return { members, daemons };
}

/** Both members of a direct pair have probed the path and raised the MTU toward each other, as they do within seconds of meeting (docs/member.md, "Path MTU"). */
async function waitForRaisedMtu(members: readonly MeshMember[]): Promise<void> {
  const [first, second] = members as [MeshMember, MeshMember];
  for (const [member, peer] of [[first, second], [second, first]] as const) {
    await waitFor(`${member.name} to raise the MTU toward ${peer.vpnIp}`, RAISE_TIMEOUT_MS, async () => (await member.peer(peer.vpnIp))?.mtu ?? undefined);
  }
}

/** Host A's nftables drop UDP between the pair's member ports both ways: the members can reach each other only through a relay. */
async function blockDirect(client: LabHost, server: LabHost, rolodexPort: number, [portA, portB]: readonly [number, number]): Promise<void> {
  const table = `mbrelay${rolodexPort}`;
  const rules = [
    `add table inet ${table}`,
    `add chain inet ${table} out { type filter hook output priority 0; }`,
    `add chain inet ${table} in { type filter hook input priority 0; }`,
    `add rule inet ${table} out ip daddr ${server.address} udp sport ${portA} udp dport ${portB} drop`,
    `add rule inet ${table} in ip saddr ${server.address} udp sport ${portB} udp dport ${portA} drop`,
  ];
  await client.mustExec('nft', ['-f', '-'], { input: `${rules.join('\n')}\n` });
}

/** The relay member on the third host (its own VPN IP in the pair's subnet). */
async function startRelay(server: LabHost, third: LabHost, variant: Variant, psk: string, mtu: number): Promise<MeshMember> {
  return startMember(third, {
    network: `bench-${variant.name}`,
    psk,
    vpnIp: `${variant.subnet}.3/24`,
    rolodexes: [`${server.address}:${variant.rolodexPort}`],
    logLevel: 'warn',
    extraArgs: ['--relay', '--tun-name', variant.tunName, '--tun-mtu', String(mtu)],
  });
}

/**
 * The largest packet host A gets through to B's VPN address with DF set, found by bisection with
 * single pings: the members run at a TUN MTU above anything they could carry, so the limit found
 * is the members' own (record size, buffers), not the device's.
 */
async function largestCarriedPacket(members: readonly MeshMember[], device: string): Promise<number> {
  const [sender, receiver] = members as [MeshMember, MeshMember];
  const carries = async (size: number): Promise<boolean> => {
    const args = ['-n', '-c', '1', '-W', '1', '-M', 'do', '-I', device, '-s', String(size - ICMP_AND_IP_HEADERS), receiver.vpnIp];
    const result = await sender.host.exec('ping', args, { timeoutMs: 5000 });
    for (const member of members) assertRunning(member.process);
    return result.code === 0;
  };
  let good = DEFAULT_MTU;
  if (!(await carries(good))) throw new Error(`a ${good}-byte ping does not get through at MTU ${LARGEST_CANDIDATE_MTU}`);
  let bad = LARGEST_CANDIDATE_MTU + 1;
  while (bad - good > 1) {
    const middle = (good + bad) >> 1;
    if (await carries(middle)) good = middle;
    else bad = middle;
  }
  return good;
}

/** Each member's peers with their state, packet counts and non-zero drops, from `meshboi status`. */
async function describeMembers(members: readonly MeshMember[]): Promise<string> {
  const nonZero = (drops: Record<string, number>): string =>
    Object.entries(drops).filter(([, count]) => count > 0).map(([name, count]) => `${name}=${count}`).join(' ') || 'none';
  const lines = await Promise.all(
    members.map(async (member) => {
      const status = await member.status();
      const peers = status.peers.map((peer) =>
        `peer ${peer.vpnIp ?? '?'} ${peer.state}, in ${peer.packetsIn} out ${peer.packetsOut} packets, drops ${nonZero(peer.drops)}`);
      const native = status.nativePath;
      const nativeText = native?.receive && native.send
        ? `native path in ${native.receive.packets} packets, ${native.receive.openedUp} opened for JavaScript, drops ${nonZero({ replay: native.receive.droppedReplay, auth: native.receive.droppedAuth, malformed: native.receive.malformed, tun: native.receive.deviceDrops })}, out ${native.send.sent} records, ${native.send.refused} refused`
        : `native path off (${native?.problem ?? 'TAP'})`;
      return `${member.vpnIp}: member drops ${nonZero(status.drops)}; ${nativeText}; ${peers.join('; ')}`;
    }),
  );
  return lines.join(' / ');
}

function meshboiTool(variant: Variant): TunnelTool {
  return {
    name: variant.name,
    needs: [],
    async up(pair, _workDir, third): Promise<Tunnel> {
      let mtu = variant.mtu === 'largest' ? LARGEST_CANDIDATE_MTU : variant.mtu;
      let started = await startPair(pair, variant, mtu, third);
      if (variant.mtu === 'largest') {
        mtu = await largestCarriedPacket(started.members, variant.tunName);
        await Promise.all(started.daemons.map((daemon) => daemon.stop()));
        started = await startPair(pair, variant, mtu, third);
      }
      const [first, second] = started.members as [MeshMember, MeshMember];
      if (profileEnvironment) {
        profiledMembers.push(
          { label: `${variant.name} (TUN MTU ${mtu}), member on host A: TUN -> seal -> UDP (iperf3 sender side)`, pid: first.process.pid },
          { label: `${variant.name} (TUN MTU ${mtu}), member on host B: UDP -> open -> TUN (iperf3 receiver side)`, pid: second.process.pid },
        );
      }
      return {
        diagnose: () => describeMembers(started.members),
        serverAddress: second.vpnIp,
        device: variant.tunName,
        mtu: await routeMtu(pair[0], second.vpnIp, variant.tunName),
        daemons: started.daemons,
        version: meshboiVersion(),
      };
    },
  };
}

export const meshboiDefault = meshboiTool({ name: 'meshboi', mtu: DEFAULT_MTU, rolodexPort: 6264, tunName: 'mbbench0', subnet: '172.30.3' });
export const meshboiLargest = meshboiTool({ name: 'meshboi-max-mtu', mtu: 'largest', rolodexPort: 6265, tunName: 'mbbench1', subnet: '172.30.4' });
/** At wireguard-go's default MTU, where an IPv4 outer datagram still fits a 1500-byte link; run only when named. */
export const meshboi1420 = meshboiTool({ name: 'meshboi-1420', mtu: 1420, rolodexPort: 6266, tunName: 'mbbench2', subnet: '172.30.5' });
/** At the default TUN MTU with probing off, so 1,300-byte datagrams cross as fragments; run only when named. */
export const meshboiFixedMtu = meshboiTool({ name: 'meshboi-fixed-mtu', mtu: DEFAULT_MTU, rolodexPort: 6269, tunName: 'mbbench5', subnet: '172.30.8', fixedMtu: true });
export const meshboiRelayed = meshboiTool({ name: 'meshboi-relayed', mtu: DEFAULT_MTU, rolodexPort: 6267, tunName: 'mbbench3', subnet: '172.30.6', relayed: 'member' });
export const meshboiRolodexRelayed = meshboiTool({ name: 'meshboi-rolodex-relayed', mtu: DEFAULT_MTU, rolodexPort: 6268, tunName: 'mbbench4', subnet: '172.30.7', relayed: 'rolodex' });
