// The measurements, the same for every tunnel: ping RTT, iperf3 TCP throughput with the CPU it
// took, and iperf3 UDP packets/s received. Each runs from host A to host B's tunnel address.
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import type { LabHost } from '../lab/host';
import type { LabProcess } from '../lab/process';
import { assertRunning, lastLines, type HostPair } from './vpn-tunnel';

const IPERF_PORT = 5201;
/** Linux reports process and machine CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICKS_PER_SECOND = 100;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median round trip of `count` pings, 0.2 s apart, in milliseconds. */
export async function measureRtt(host: LabHost, address: string, count: number): Promise<number> {
  const output = await host.mustExec('ping', ['-n', '-c', String(count), '-i', '0.2', address], { timeoutMs: count * 1000 + 10_000 });
  const times = [...output.matchAll(/time=([\d.]+) ms/g)].map((match) => Number.parseFloat(match[1] as string));
  if (times.length === 0) throw new Error(`ping ${address} from ${host.name} got no replies: ${output.trim()}`);
  return median(times);
}

/** CPU time consumed by a process so far, in seconds (user + system, all threads). */
async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

interface MachineCpu {
  /** Every busy column of /proc/stat: user, nice, system, irq, softirq, steal. */
  busy: number;
  /** Interrupt and softirq time, which Linux charges to no process: for a tunnel, mostly the
   * network stack delivering its packets. */
  interrupts: number;
}

/** CPU time of the whole machine so far, in seconds summed over cores. */
async function machineCpuSeconds(): Promise<MachineCpu> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] as string;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND, interrupts: (irq + softirq) / TICKS_PER_SECOND };
}

interface CpuSnapshot {
  at: number;
  daemons: number;
  machine: MachineCpu;
}

async function snapshot(daemons: readonly LabProcess[]): Promise<CpuSnapshot> {
  const perDaemon = await Promise.all(daemons.map((daemon) => processCpuSeconds(daemon.pid)));
  return { at: performance.now(), daemons: perDaemon.reduce((sum, value) => sum + value, 0), machine: await machineCpuSeconds() };
}

interface IperfEnd {
  sum_sent?: { retransmits?: number };
  sum_received?: { seconds: number; bits_per_second: number; packets?: number; lost_packets?: number; bytes: number };
  cpu_utilization_percent?: { host_total: number; remote_total: number };
}

/** Runs one iperf3 test against a fresh one-shot server on host B and returns its JSON "end". */
async function iperf(pair: HostPair, address: string, clientArgs: string[], seconds: number): Promise<IperfEnd> {
  const [client, server] = pair;
  // Bound to the tunnel's address: a UDP server takes the first datagram it gets as its client,
  // and a late datagram from the previous tool's flood (same port, other tunnel) must not be it.
  const daemon = server.spawn('iperf3', ['-s', '-1', '-B', address, '-p', String(IPERF_PORT)]);
  try {
    for (let tries = 0; ; tries++) {
      assertRunning(daemon);
      const listening = await server.mustExec('ss', ['-Hltn', `sport = :${IPERF_PORT}`]);
      if (listening.trim() !== '') break;
      if (tries === 50) throw new Error(`iperf3 server on ${server.name} is not listening: ${lastLines(daemon.output())}`);
      await sleep(100);
    }
    const args = ['-c', address, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', '--connect-timeout', '5000', ...clientArgs];
    const clientRun = await client.exec('iperf3', args, { timeoutMs: (seconds + 30) * 1000 });
    // iperf3 -J reports its own failures as {"error": ...} on stdout, with exit code 1.
    let result: { end?: IperfEnd; error?: string };
    try {
      result = JSON.parse(clientRun.stdout) as typeof result;
    } catch {
      throw new Error(`iperf3 ${clientArgs.join(' ')} to ${address} exited ${clientRun.code}: ${lastLines(clientRun.stderr + clientRun.stdout)}`);
    }
    if (result.error || !result.end?.sum_received) throw new Error(`iperf3 ${clientArgs.join(' ')} to ${address}: ${result.error ?? 'no result'}`);
    return result.end;
  } finally {
    await daemon.stop();
  }
}

export interface TcpRun {
  mbps: number;
  /** The transfer's CPU in percent of one core: both iperf3 ends, the tunnel's processes, and the
   * machine's interrupt and softirq time (the network stack's work, which no process is charged). */
  cpuPct: number;
  /** The tunnel's processes alone, in percent of one core. */
  tunnelCpuPct: number;
  /** Interrupt and softirq time of the whole machine, in percent of one core. */
  interruptCpuPct: number;
  /** Busy time of the whole machine (every process, others' too), in percent of one core. */
  machineCpuPct: number;
  /** TCP segments the sender retransmitted: loss inside the tunnel shows up here. */
  retransmits: number;
  /** Median ping RTT through the tunnel while the stream ran: what its queues add under load. */
  loadedRttMs: number;
}

/** Pings 0.2 s apart while a transfer of `seconds` runs, from 1 s in (slow start over) to its end. */
const LOADED_PING_START_MS = 1000;

/** One TCP stream for `seconds`, with the CPU the transfer cost (see TcpRun for how). */
export async function measureTcp(pair: HostPair, address: string, seconds: number, daemons: readonly LabProcess[]): Promise<TcpRun> {
  const before = await snapshot(daemons);
  const transfer = iperf(pair, address, [], seconds);
  // The ping starts with the server's setup, about half a second before the stream.
  const pings = Math.max(3, Math.floor((seconds * 1000 - LOADED_PING_START_MS) / 200));
  const loaded = sleep(LOADED_PING_START_MS).then(() => measureRtt(pair[0], address, pings));
  const [end, loadedRttMs] = await Promise.all([transfer, loaded]);
  const after = await snapshot(daemons);
  const percent = (cpuSeconds: number): number => (cpuSeconds / ((after.at - before.at) / 1000)) * 100;
  const tunnelCpuPct = percent(after.daemons - before.daemons);
  const interruptCpuPct = percent(after.machine.interrupts - before.machine.interrupts);
  const iperfCpuPct = (end.cpu_utilization_percent?.host_total ?? 0) + (end.cpu_utilization_percent?.remote_total ?? 0);
  return {
    mbps: end.sum_received!.bits_per_second / 1e6,
    cpuPct: iperfCpuPct + tunnelCpuPct + interruptCpuPct,
    tunnelCpuPct,
    interruptCpuPct,
    machineCpuPct: percent(after.machine.busy - before.machine.busy),
    retransmits: end.sum_sent?.retransmits ?? 0,
    loadedRttMs,
  };
}

/** The receiving host's IPv4 reassembly queues: "FRAG: inuse <queues> memory <bytes>". */
async function fragmentQueues(host: LabHost): Promise<{ line: string; bytes: number }> {
  const line = /^FRAG: .*$/m.exec(await host.mustExec('cat', ['/proc/net/sockstat']))?.[0] ?? 'FRAG: unknown';
  return { line, bytes: Number(/memory (\d+)/.exec(line)?.[1] ?? 0) };
}

/**
 * A flood through a tunnel whose MTU is below the datagram size arrives as fragments, and every
 * fragment lost on the way leaves a half-built datagram on the receiver until ipfrag_time expires.
 * At ipfrag_high_thresh (4 MB) the kernel reassembles nothing more, so the next tool's flood
 * would see no datagram at all: the receiver gets a short ipfrag_time, and each run waits (a few
 * seconds at most) for the queues left by the one before to expire.
 */
export async function shortenReassemblyTimeout(server: LabHost, seconds: number): Promise<void> {
  await server.mustExec('sysctl', ['-qw', `net.ipv4.ipfrag_time=${seconds}`]);
}

const LEFTOVER_FRAGMENT_BYTES = 256 * 1024;

async function waitForReassemblyQueues(server: LabHost): Promise<void> {
  for (let tries = 0; tries < 40 && (await fragmentQueues(server)).bytes > LEFTOVER_FRAGMENT_BYTES; tries++) await sleep(250);
}

/** UDP datagrams of `payloadBytes` offered as fast as iperf3 can send; received datagrams/s. */
export async function measureUdp(pair: HostPair, address: string, seconds: number, payloadBytes: number): Promise<number> {
  await waitForReassemblyQueues(pair[1]);
  const end = await iperf(pair, address, ['-u', '-b', '0', '-l', String(payloadBytes)], seconds);
  const received = end.sum_received!;
  const count = (received.packets ?? 0) - (received.lost_packets ?? 0);
  if (count <= 0) {
    const { line } = await fragmentQueues(pair[1]);
    throw new Error(`not one of ${received.packets ?? 0} UDP datagrams arrived in ${seconds} s (host B ${line})`);
  }
  return count / received.seconds;
}
