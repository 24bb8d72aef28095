// Driving the real `meshboi` command line inside lab hosts, as a person would: a rolodex, members
// with their own PSK file and control socket, `meshboi status`, ping, TCP transfers and iperf3 through the tunnels.
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MemberStatus } from '../src/member/status';
import type { LabHost } from './host';
import { Lab } from './lab';
import type { TopologyDescription } from './topology';
import type { LabProcess } from './process';

/** The compiled CLI, beside this file in dist/. */
export const MESHBOI_CLI = path.join(__dirname, '..', 'cmd', 'meshboi.js');
const TCP_TRANSFER = path.join(__dirname, 'tcp-transfer.js');
export const ROLODEX_PORT = 6264;
export type PeerStatus = MemberStatus['peers'][number];

/** Polls `check` every `everyMs` until it returns a value other than undefined; rejects with `what` and the last reason after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
    await sleep(everyMs);
  }
}

/** Resolves once `owner` itself listens on the port (as `ss` in its namespace sees it); rejects with its output if it exits first. */
export async function waitForListening(host: LabHost, protocol: 'udp' | 'tcp', port: number, owner: LabProcess): Promise<void> {
  await waitFor(`${owner.label} to listen on ${protocol} ${port}`, 10_000, async () => {
    if (!owner.running) throw new Error(`it exited: ${owner.output().slice(-2_000)}`);
    const sockets = await host.mustExec('ss', [protocol === 'udp' ? '-Hnlup' : '-Hnltp', `sport = :${port}`]);
    return sockets.includes(`pid=${owner.pid},`) ? true : undefined;
  }, 50);
}

export interface RolodexOptions {
  port?: number;
  logLevel?: string;
  extraArgs?: string[];
}

/** Starts `meshboi rolodex` on a host and resolves once its UDP port is open. */
export async function startRolodex(host: LabHost, options: RolodexOptions = {}): Promise<LabProcess> {
  const port = options.port ?? ROLODEX_PORT;
  const rolodex = host.spawn(
    process.execPath,
    [MESHBOI_CLI, '--log-level', options.logLevel ?? 'debug', 'rolodex', '--listen-port', String(port), ...(options.extraArgs ?? [])],
    { logName: `${host.name}-rolodex-${Date.now()}.log` },
  );
  await waitForListening(host, 'udp', port, rolodex);
  return rolodex;
}

export interface MemberOptions {
  network: string;
  psk: string;
  /** With prefix, e.g. 192.168.50.2/24. */
  vpnIp: string;
  /** HOST[:PORT] of each rolodex. */
  rolodexes: string[];
  listenPort?: number;
  logLevel?: string;
  extraArgs?: string[];
}

/** A running `meshboi member` in a lab host, seen only through its CLI: status over its control socket, ping, iperf3. */
export class MeshMember {
  constructor(
    readonly host: LabHost,
    readonly process: LabProcess,
    readonly vpnIp: string,
    readonly controlSocket: string,
  ) {}

  get name(): string {
    return this.host.name;
  }

  async status(): Promise<MemberStatus> {
    const result = await this.host.exec(process.execPath, [MESHBOI_CLI, 'status', '--json', '--control-socket', this.controlSocket], { timeoutMs: 10_000 });
    if (result.code !== 0) throw new Error(`meshboi status on ${this.name} failed (${result.code}): ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as MemberStatus;
  }

  /** The human table `meshboi status` prints. */
  async statusTable(): Promise<string> {
    return this.host.mustExec(process.execPath, [MESHBOI_CLI, 'status', '--control-socket', this.controlSocket], { timeoutMs: 10_000 });
  }

  /** The peer entry with this VPN IP, if the member has one. */
  async peer(vpnIp: string): Promise<PeerStatus | undefined> {
    return (await this.status()).peers.find((peer) => peer.vpnIp === vpnIp);
  }

  /**
   * Waits until the member has an established session with every one of `vpnIps`; with
   * `handshakeAfter` (a Date.now() value) only sessions whose handshake completed after it count,
   * so a stale session to a restarted peer does not.
   */
  async waitForEstablished(vpnIps: string[], timeoutMs: number, handshakeAfter = 0): Promise<MemberStatus> {
    return waitFor(`${this.name} (${this.vpnIp}) to establish sessions with ${vpnIps.join(', ')}`, timeoutMs, async () => {
      if (!this.process.running) throw new Error(`the member exited: ${this.process.output().slice(-2_000)}`);
      const status = await this.status();
      const askedAt = Date.now();
      const fresh = (peer: PeerStatus): boolean => handshakeAfter === 0 || (peer.sinceHandshakeMs !== null && askedAt - peer.sinceHandshakeMs >= handshakeAfter);
      const missing = vpnIps.filter((vpnIp) => !status.peers.some((peer) => peer.vpnIp === vpnIp && peer.state === 'established' && fresh(peer)));
      if (missing.length === 0) return status;
      throw new Error(`not established${handshakeAfter ? ' since the given time' : ''} with ${missing.join(', ')}; peers: ${describePeers(status)}`);
    }, 300);
  }

  /**
   * Pings a VPN address through the tunnel. A deadline rather than a per-reply timeout, so a reply
   * late on a busy machine still counts; ping then stops once `count` replies are in, and a lost
   * one shows as `received < transmitted` (ping keeps probing until the deadline).
   */
  async ping(vpnIp: string, count = 3, intervalSeconds = 0.2): Promise<PingResult> {
    const deadlineSeconds = Math.ceil(count * intervalSeconds) + 3;
    const result = await this.host.exec('ping', ['-q', '-n', '-c', String(count), '-i', String(intervalSeconds), '-w', String(deadlineSeconds), vpnIp], {
      timeoutMs: (deadlineSeconds + 5) * 1_000,
    });
    const match = /(\d+) packets transmitted, (\d+) received/.exec(result.stdout);
    if (!match) throw new Error(`ping ${vpnIp} on ${this.name} printed no summary (exit ${result.code}): ${result.stdout.trim()} ${result.stderr.trim()}`);
    return { from: this.name, to: vpnIp, transmitted: Number(match[1]), received: Number(match[2]) };
  }

  /** SIGTERM: the member says goodbye to its peers and exits. */
  stop(): Promise<unknown> {
    return this.process.stop();
  }

  /** SIGKILL: a crash, with no goodbye. */
  kill(): Promise<unknown> {
    return this.process.kill();
  }
}

export interface PingResult {
  from: string;
  to: string;
  transmitted: number;
  received: number;
}

/** One line per peer: VPN IP, state, outside address and last error. */
export function describePeers(status: MemberStatus): string {
  if (status.peers.length === 0) return 'none';
  return status.peers.map((peer) => `${peer.vpnIp ?? '?'}@${peer.outsideAddress} ${peer.state}${peer.lastError ? ` (${peer.lastError})` : ''}`).join('; ');
}

/** Starts `meshboi member` on a host with its PSK in a 0600 file and its own control socket, and resolves once status answers. */
export async function startMember(host: LabHost, options: MemberOptions): Promise<MeshMember> {
  const stamp = `${host.name}-${Date.now()}`;
  const pskFile = path.join(host.runFolder, `${stamp}.psk`);
  writeFileSync(pskFile, `${options.psk}\n`, { mode: 0o600 });
  const controlSocket = path.join(host.runFolder, `${stamp}.sock`);
  const args = [
    MESHBOI_CLI,
    '--log-level',
    options.logLevel ?? 'debug',
    'member',
    '--network',
    options.network,
    '--psk-file',
    pskFile,
    '--vpn-ip',
    options.vpnIp,
    ...options.rolodexes.flatMap((rolodex) => ['--rolodex-address', rolodex]),
    '--listen-port',
    String(options.listenPort ?? 0),
    '--control-socket',
    controlSocket,
    ...(options.extraArgs ?? []),
  ];
  const child = host.spawn(process.execPath, args, { logName: `${stamp}-member.log` });
  const member = new MeshMember(host, child, options.vpnIp.split('/')[0], controlSocket);
  await waitFor(`${host.name}'s member to answer meshboi status`, 15_000, async () => {
    if (!child.running) throw new Error(`it exited: ${child.output().slice(-2_000)}`);
    await member.status();
    return true;
  }, 100);
  return member;
}

/** Every ordered pair of members pings the other's VPN IP, all pairs at once. */
export function pingMatrix(members: MeshMember[], count = 3): Promise<PingResult[]> {
  return Promise.all(members.flatMap((from) => members.filter((to) => to !== from).map((to) => from.ping(to.vpnIp, count))));
}

/** The ping matrix as a table: rows are senders, columns receivers, cells replies/sent. */
export function renderPingMatrix(members: MeshMember[], results: PingResult[]): string {
  const width = Math.max(...members.map((member) => member.name.length), 8) + 2;
  const header = ['from \\ to'.padEnd(width), ...members.map((member) => member.name.padEnd(width))].join('');
  const rows = members.map((from) =>
    [
      from.name.padEnd(width),
      ...members.map((to) => {
        if (to === from) return '-'.padEnd(width);
        const result = results.find((candidate) => candidate.from === from.name && candidate.to === to.vpnIp);
        return (result ? `${result.received}/${result.transmitted}` : '?').padEnd(width);
      }),
    ].join(''),
  );
  return [header, ...rows].join('\n');
}

/** Sends `bytes` over TCP with iperf3 from one member to another through the tunnel; returns what the receiver got and the rate. */
export async function iperfThroughTunnel(from: MeshMember, to: MeshMember, options: { bytes?: number; seconds?: number; port?: number } = {}): Promise<{ bytesReceived: number; bitsPerSecond: number; seconds: number }> {
  const port = options.port ?? 5201;
  const server = to.host.spawn('iperf3', ['-s', '-1', '-p', String(port), '-B', to.vpnIp], { logName: `${to.name}-iperf3-${Date.now()}.log` });
  try {
    await waitForListening(to.host, 'tcp', port, server);
    const amount = options.bytes !== undefined ? ['-n', String(options.bytes)] : ['-t', String(options.seconds ?? 3)];
    const result = await from.host.exec('iperf3', ['-c', to.vpnIp, '-p', String(port), '-J', ...amount], { timeoutMs: 120_000 });
    const report = JSON.parse(result.stdout || '{}') as { error?: string; end?: { sum_received?: { bytes: number; bits_per_second: number; seconds: number } } };
    if (result.code !== 0 || !report.end?.sum_received) throw new Error(`iperf3 from ${from.name} to ${to.name} failed: ${report.error ?? result.stderr.trim()}`);
    const received = report.end.sum_received;
    return { bytesReceived: received.bytes, bitsPerSecond: received.bits_per_second, seconds: received.seconds };
  } finally {
    await server.stop();
  }
}

export interface MeshPlan {
  network?: string;
  /** The network's PSK; a random one by default. */
  psk?: string;
  /** The public host running the rolodex. */
  rolodexHost: string;
  /** Members reach the rolodex at its IPv6 address (the topology needs `ipv6: true`). */
  rolodexOverIpv6?: boolean;
  /** `extraArgs` go to `meshboi member` as they are (a second --vpn-ip, --name, routes). */
  members: Array<{ host: string; vpnIp: string; listenPort?: number; extraArgs?: string[] }>;
  logLevel?: string;
}

export interface Mesh {
  network: string;
  psk: string;
  rolodexAddress: string;
  rolodex: LabProcess;
  members: MeshMember[];
}

/** Starts a rolodex and then every member of `plan` (all at once), each in its own host. */
export async function startMesh(lab: Lab, plan: MeshPlan, report: (line: string) => void = () => {}): Promise<Mesh> {
  const network = plan.network ?? 'lab';
  const psk = plan.psk ?? randomBytes(24).toString('base64url');
  const rolodexHost = lab.host(plan.rolodexHost);
  const address6 = rolodexHost.address6;
  if (plan.rolodexOverIpv6 && address6 === null) throw new Error(`rolodexOverIpv6 needs a topology with ipv6: true (${rolodexHost.name} has no IPv6 address)`);
  const rolodexAddress = plan.rolodexOverIpv6 ? `[${address6}]:${ROLODEX_PORT}` : `${rolodexHost.address}:${ROLODEX_PORT}`;
  report(`starting the rolodex on ${rolodexHost.name} (${rolodexAddress})`);
  // On a host with IPv6, "::" listens on both families.
  const rolodex = await startRolodex(rolodexHost, { logLevel: plan.logLevel, extraArgs: address6 === null ? [] : ['--listen-address', '::'] });
  const members = await Promise.all(
    plan.members.map((entry) => {
      const host = lab.host(entry.host);
      report(`starting member ${entry.vpnIp} on ${host.name} (${host.address}${host.plan.nat ? `, behind NAT ${host.plan.nat}` : ', public'})`);
      return startMember(host, { network, psk, vpnIp: entry.vpnIp, rolodexes: [rolodexAddress], listenPort: entry.listenPort, logLevel: plan.logLevel, extraArgs: entry.extraArgs });
    }),
  );
  return { network, psk, rolodexAddress, rolodex, members };
}

/** A lab with a mesh started in it, the usual start of an end-to-end test; nothing is left behind if the mesh cannot start. */
export async function startMeshLab(description: TopologyDescription, plan: MeshPlan): Promise<{ lab: Lab; mesh: Mesh }> {
  const lab = await Lab.create(description);
  try {
    return { lab, mesh: await lab.explainFailure(() => startMesh(lab, plan)) };
  } catch (error) {
    await lab.teardown();
    throw error;
  }
}

/** Members on these hosts with VPN IPs 192.168.50.1/24, .2, ... in order. */
export function numberedMembers(hosts: string[]): MeshPlan['members'] {
  return hosts.map((host, index) => ({ host, vpnIp: `192.168.50.${index + 1}/24` }));
}

/** Waits until every member has an established session with every other one. */
export async function waitForFullMesh(members: MeshMember[], timeoutMs: number): Promise<MemberStatus[]> {
  return Promise.all(members.map((member) => member.waitForEstablished(members.filter((other) => other !== member).map((other) => other.vpnIp), timeoutMs)));
}

/** Waits until a restarted member and every other member have sessions with each other that were made after `restartedAt`. */
export async function waitForRejoin(restarted: MeshMember, members: MeshMember[], restartedAt: number, timeoutMs: number): Promise<void> {
  const others = members.filter((member) => member !== restarted);
  await Promise.all([
    restarted.waitForEstablished(others.map((other) => other.vpnIp), timeoutMs),
    ...others.map((other) => other.waitForEstablished([restarted.vpnIp], timeoutMs, restartedAt)),
  ]);
}

export interface TcpTransferResult {
  bytesSent: number;
  bytesReceived: number;
  /** The receiver read exactly what the sender wrote (same SHA-256). */
  intact: boolean;
  seconds: number;
}

/** Sends `bytes` random bytes over one TCP connection from one member to another's VPN IP and checks they arrived intact. */
export async function tcpTransfer(from: MeshMember, to: MeshMember, bytes: number, port = 5300): Promise<TcpTransferResult> {
  const receiver = to.host.spawn(process.execPath, [TCP_TRANSFER, 'receive', '--address', to.vpnIp, '--port', String(port)], { logName: `${to.name}-tcp-receive-${Date.now()}.log` });
  try {
    await waitForListening(to.host, 'tcp', port, receiver);
    const sent = await from.host.exec(process.execPath, [TCP_TRANSFER, 'send', '--address', to.vpnIp, '--port', String(port), '--bytes', String(bytes)], { timeoutMs: 120_000 });
    if (sent.code !== 0) throw new Error(`TCP transfer from ${from.name} to ${to.name} failed (${sent.code}): ${sent.stderr.trim()}`);
    const sender = JSON.parse(sent.stdout.trim()) as { bytes: number; sha256: string; seconds: number };
    await receiver.exited;
    const received = JSON.parse(receiver.output().trim().split('\n').pop() ?? '{}') as { bytes?: number; sha256?: string };
    return { bytesSent: sender.bytes, bytesReceived: received.bytes ?? 0, intact: received.sha256 === sender.sha256, seconds: sender.seconds };
  } finally {
    await receiver.stop();
  }
}
