// Builds a topology of network namespaces from a description: an "internet" bridge in its own
// namespace, public hosts and NAT routers on it, private hosts on each router's LAN bridge, NAT and
// packet loss in nftables. Tears all of it down on success, failure, Ctrl-C or SIGTERM.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LabHost } from './host';
import { INTERNET_HOST, namespaceName, newRunId, runFolder } from './names';
import { checkLossPercent, INTERNET_GATEWAY, INTERNET_GATEWAY6, planTopology, type NatKind, type PlannedHost, type TopologyDescription } from './topology';
import { ensureLabTools, findExecutable, isRoot, mustRun, runCommand, runCommandSync } from './tools';

export interface LabOptions {
  /** Start of every namespace and folder name of the run; cleanup looks for it. */
  prefix?: string;
  /** Receives one line per build step, for the demo. */
  report?: (line: string) => void;
  /** Keep the run folder (logs, PSK files) after teardown, for a post-mortem. */
  keepFiles?: boolean;
}

const UPLINK = 'eth0';
const LAN_BRIDGE = 'lan';
const INTERNET_BRIDGE = 'internet';
const NAT_TABLE = 'meshboi_lab_nat';
const LOSS_TABLE = 'meshboi_lab_loss';

// Labs alive in this process, torn down synchronously if the process is interrupted or exits.
const liveLabs = new Set<Lab>();
let exitHandlersInstalled = false;

export class Lab {
  readonly hosts: LabHost[];
  private tornDown = false;

  private constructor(
    readonly runId: string,
    readonly folder: string,
    private readonly ipCommand: string,
    private readonly nftCommand: string,
    plan: PlannedHost[],
    private readonly keepFiles: boolean,
  ) {
    this.hosts = plan.map((planned) => new LabHost(planned, namespaceName(runId, planned.name), ipCommand, folder));
  }

  /** Checks tools and privileges, then builds the whole topology; on any failure nothing is left behind. */
  static async create(description: TopologyDescription, options: LabOptions = {}): Promise<Lab> {
    const report = options.report ?? (() => {});
    const plan = planTopology(description);
    if (!isRoot()) throw new Error('the lab needs root (network namespaces, veth, nftables): run it as root');
    await ensureLabTools(report);
    ensureNeighbourTableRoom(report);
    const runId = newRunId(options.prefix);
    const folder = runFolder(runId);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const lab = new Lab(runId, folder, findExecutable('ip') ?? 'ip', findExecutable('nft') ?? 'nft', plan.hosts, options.keepFiles ?? false);
    liveLabs.add(lab);
    installExitHandlers();
    try {
      await lab.build(report);
    } catch (error) {
      await lab.teardown();
      throw error;
    }
    return lab;
  }

  host(name: string): LabHost {
    const found = this.hosts.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no host "${name}" in this lab: it has ${this.hosts.map((candidate) => candidate.name).join(', ')}`);
    return found;
  }

  /** Every namespace of the run, the internet's included. */
  namespaces(): string[] {
    return [namespaceName(this.runId, INTERNET_HOST), ...this.hosts.map((host) => host.namespace)];
  }

  /** The last `lines` lines each process of the lab wrote, for explaining a failure. */
  logTails(lines = 25): string {
    return this.hosts
      .flatMap((host) => host.processes)
      .map((child) => {
        const tail = child.output().trimEnd().split('\n').slice(-lines).join('\n');
        return `--- ${child.label} (pid ${child.pid}, ${child.running ? 'running' : 'exited'}), ${child.logPath}\n${tail}`;
      })
      .join('\n');
  }

  /** Runs `step`; if it throws, the error message gains every process's log tail. */
  async explainFailure<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof Error) error.message += `\n${this.logTails()}`;
      throw error;
    }
  }

  /** Drops `percent` % of packets, chosen at random, each way on the host's uplink; 0 removes the loss. */
  async setLoss(hostName: string, percent: number): Promise<void> {
    const host = this.host(hostName);
    checkLossPercent(percent);
    const drop = `numgen random mod 100 < ${percent} drop`;
    const rules =
      percent === 0
        ? ''
        : `table inet ${LOSS_TABLE} {
  chain input { type filter hook input priority -10; policy accept; iifname "${UPLINK}" ${drop}; }
  chain output { type filter hook output priority -10; policy accept; oifname "${UPLINK}" ${drop}; }
  chain forward { type filter hook forward priority -10; policy accept; iifname "${UPLINK}" ${drop}; oifname "${UPLINK}" ${drop}; }
}
`;
    // Adding then deleting makes the delete valid whether or not the table existed; one file is one transaction.
    await this.nft(host.namespace, `table inet ${LOSS_TABLE}\ndelete table inet ${LOSS_TABLE}\n${rules}`);
  }

  /** Stops every process the lab started (SIGTERM, then SIGKILL), then deletes every namespace. Safe to call twice. */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    await Promise.all(this.hosts.flatMap((host) => host.processes.map((child) => child.stop())));
    for (const namespace of this.namespaces()) {
      await killNamespaceProcesses(this.ipCommand, namespace);
      await runCommand(this.ipCommand, ['netns', 'del', namespace]);
    }
    if (!this.keepFiles) rmSync(this.folder, { recursive: true, force: true });
    liveLabs.delete(this);
  }

  /** The teardown for a signal or exit handler: SIGKILL by pid and delete namespaces, without awaiting. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const host of this.hosts) for (const child of host.processes) child.signal('SIGKILL');
    for (const namespace of this.namespaces()) {
      killPids(namespacePidsSync(this.ipCommand, namespace));
      runCommandSync(this.ipCommand, ['netns', 'del', namespace]);
    }
    if (!this.keepFiles) rmSync(this.folder, { recursive: true, force: true });
    liveLabs.delete(this);
  }

  private async build(report: (line: string) => void): Promise<void> {
    const internet = namespaceName(this.runId, INTERNET_HOST);
    report(`creating ${this.hosts.length + 1} network namespaces (run ${this.runId})`);
    for (const namespace of this.namespaces()) {
      await this.ip(['netns', 'add', namespace]);
      await this.ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
    }
    await this.ip(['-n', internet, 'link', 'add', INTERNET_BRIDGE, 'type', 'bridge']);
    await keepBridgesOutOfNetfilter(this.ipCommand, internet);
    // The gateway answers ARP but does not forward: packets to addresses outside the internet end there.
    await this.ip(['-n', internet, 'addr', 'add', `${INTERNET_GATEWAY}/24`, 'dev', INTERNET_BRIDGE]);
    if (this.hosts.some((host) => host.plan.address6 !== null)) {
      await this.ip(['-n', internet, 'addr', 'add', `${INTERNET_GATEWAY6}/64`, 'dev', INTERNET_BRIDGE, 'nodad']);
    }
    await this.ip(['-n', internet, 'link', 'set', INTERNET_BRIDGE, 'up']);

    let port = 0;
    for (const host of this.hosts) {
      const upstream = host.plan.role === 'private' ? this.host(host.plan.nat ?? '') : null;
      const bridgeNamespace = upstream ? upstream.namespace : internet;
      const bridge = upstream ? LAN_BRIDGE : INTERNET_BRIDGE;
      if (host.plan.role === 'router') await this.buildLanBridge(host);
      port += 1;
      await this.link(bridgeNamespace, bridge, `port${port}`, host);
      if (host.plan.role === 'router') await this.buildNat(host, report);
      if (host.plan.lossPercent > 0) {
        report(`${host.name}: dropping ${host.plan.lossPercent}% of packets each way on its uplink`);
        await this.setLoss(host.name, host.plan.lossPercent);
      }
    }
    report(`internet ${this.hosts.filter((host) => host.plan.role !== 'private').map((host) => `${host.name}=${host.address}`).join(' ')}`);
  }

  /** A veth pair: `portName` on the bridge, `eth0` in the host with its address and route. */
  private async link(bridgeNamespace: string, bridge: string, portName: string, host: LabHost): Promise<void> {
    await this.ip(['-n', bridgeNamespace, 'link', 'add', portName, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', host.namespace]);
    await this.ip(['-n', bridgeNamespace, 'link', 'set', portName, 'master', bridge, 'up']);
    await this.ip(['-n', host.namespace, 'addr', 'add', `${host.address}/${host.plan.prefixLength}`, 'dev', UPLINK]);
    await this.ip(['-n', host.namespace, 'link', 'set', UPLINK, 'up']);
    // A default route through a gateway, as on a real network. An on-link default would make every
    // address tried (a peer's LAN endpoint, say) a neighbour entry, and that table is shared by all namespaces.
    await this.ip(['-n', host.namespace, 'route', 'add', 'default', 'via', host.plan.gateway]);
    if (host.plan.address6 !== null) {
      // nodad: the address is usable at once instead of after duplicate address detection.
      await this.ip(['-n', host.namespace, 'addr', 'add', `${host.plan.address6}/64`, 'dev', UPLINK, 'nodad']);
      await this.ip(['-n', host.namespace, '-6', 'route', 'add', 'default', 'via', INTERNET_GATEWAY6]);
    }
  }

  private async buildLanBridge(router: LabHost): Promise<void> {
    await this.ip(['-n', router.namespace, 'link', 'add', LAN_BRIDGE, 'type', 'bridge']);
    await keepBridgesOutOfNetfilter(this.ipCommand, router.namespace);
    await this.ip(['-n', router.namespace, 'addr', 'add', `${router.plan.lanAddress}/24`, 'dev', LAN_BRIDGE]);
    await this.ip(['-n', router.namespace, 'link', 'set', LAN_BRIDGE, 'up']);
  }

  private async buildNat(router: LabHost, report: (line: string) => void): Promise<void> {
    const kind = router.plan.natKind ?? 'cone';
    report(`${router.name}: ${kind} NAT ${router.plan.lanAddress}/24 -> ${router.address}`);
    await router.mustExec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await this.nft(router.namespace, natRuleset(kind));
    const timeout = router.plan.udpTimeoutSeconds;
    if (timeout !== null) {
      // Conntrack timeouts are per namespace; the module is loaded now that the rules use `ct`.
      report(`${router.name}: idle UDP mappings expire after ${timeout} s`);
      await router.mustExec('sysctl', ['-qw', `net.netfilter.nf_conntrack_udp_timeout=${timeout}`, `net.netfilter.nf_conntrack_udp_timeout_stream=${timeout}`]);
    }
  }

  private async ip(args: string[]): Promise<void> {
    await mustRun(this.ipCommand, args);
  }

  private async nft(namespace: string, rules: string): Promise<void> {
    await mustRun(this.ipCommand, ['netns', 'exec', namespace, this.nftCommand, '-f', '-'], { input: rules });
  }
}

/**
 * A NAT on the uplink. Both kinds drop unsolicited inbound packets, like a home router: that also
 * keeps a peer's early punch from leaving a conntrack entry that would make the NAT pick another
 * port for our own later packet to it. The cone kind is Linux's plain masquerade, which keeps the
 * inside port and lets in replies from any destination we sent to (port-restricted cone); the
 * symmetric kind picks a fresh random port for every new destination.
 */
export function natRuleset(kind: NatKind): string {
  const masquerade = kind === 'symmetric' ? 'masquerade fully-random' : 'masquerade';
  return `table ip ${NAT_TABLE} {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "${UPLINK}" ${masquerade}; }
  chain input { type filter hook input priority filter; policy accept; iifname "${UPLINK}" ct state new drop; }
  chain forward { type filter hook forward priority filter; policy accept; iifname "${UPLINK}" ct state new drop; }
}
`;
}

// The kernel's ARP table is one for all namespaces, 1,024 entries by default: a lab of a few dozen
// hosts on one segment (all talking to all) plus parallel labs would overflow it and lose packets
// everywhere. Raised, never lowered; entries are small.
const NEIGHBOUR_THRESHOLDS: ReadonlyArray<[string, number]> = [
  ['/proc/sys/net/ipv4/neigh/default/gc_thresh2', 8_192],
  ['/proc/sys/net/ipv4/neigh/default/gc_thresh3', 16_384],
];

function ensureNeighbourTableRoom(report: (line: string) => void): void {
  for (const [file, wanted] of NEIGHBOUR_THRESHOLDS) {
    try {
      const current = Number(readFileSync(file, 'utf8').trim());
      if (current >= wanted) continue;
      writeFileSync(file, String(wanted));
      report(`raised ${path.basename(file)} of the shared ARP table from ${current} to ${wanted}`);
    } catch {
      // Not writable (a container without that sysctl): big labs may then lose packets, small ones do not.
    }
  }
}

/**
 * With the br_netfilter module loaded (Docker loads it), bridged frames would also pass the
 * namespace's IP hooks and conntrack; switching that off keeps the lab the same on every machine.
 * Without the module the keys do not exist, which is the state wanted.
 */
async function keepBridgesOutOfNetfilter(ipCommand: string, namespace: string): Promise<void> {
  for (const family of ['iptables', 'ip6tables', 'arptables']) {
    await runCommand(ipCommand, ['netns', 'exec', namespace, 'sysctl', '-qw', `net.bridge.bridge-nf-call-${family}=0`]);
  }
}

/** Pids of processes still inside a namespace (`ip netns pids`); empty when it is gone. */
export async function namespacePids(ipCommand: string, namespace: string): Promise<number[]> {
  const result = await runCommand(ipCommand, ['netns', 'pids', namespace]);
  return result.code === 0 ? parsePids(result.stdout) : [];
}

function namespacePidsSync(ipCommand: string, namespace: string): number[] {
  try {
    return parsePids(execFileSync(ipCommand, ['netns', 'pids', namespace], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return [];
  }
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills by pid whatever still runs in the namespace (children of spawned processes, a crashed run's leftovers) and waits until it is gone. */
export async function killNamespaceProcesses(ipCommand: string, namespace: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = await namespacePids(ipCommand, namespace);
    if (pids.length === 0) return;
    killPids(pids);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  const teardownAll = (): void => {
    for (const lab of [...liveLabs]) lab.teardownSync();
  };
  process.on('exit', teardownAll);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      process.stderr.write(`lab: ${signal}, tearing down ${liveLabs.size} lab(s)\n`);
      teardownAll();
      process.exit(code);
    });
  }
}
