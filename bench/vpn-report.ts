// Turns the measured figures into the comparison table (each figure as a ratio to Nebula and to
// wireguard-go, measured in the same run), the target verdicts, and the JSON/Markdown results.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface ToolResult {
  tool: string;
  status: 'ok' | 'failed';
  /** Why a measurement or the whole tool failed; absent when everything worked. */
  reason?: string;
  version?: string;
  mtu?: number;
  tcp_mbps_runs: number[];
  tcp_mbps_median: number | null;
  /** TCP retransmissions per run, median: loss inside the tunnel. */
  tcp_retransmits: number | null;
  udp_pps_runs: number[];
  udp_pps: number | null;
  /** Median ping RTT after the TCP runs (steady state). */
  rtt_ms: number | null;
  /** Median over the TCP runs of the median ping RTT during each run. */
  rtt_loaded_ms: number | null;
  /** rtt_loaded_ms minus the bare link's, in the same run. */
  rtt_loaded_added_ms: number | null;
  /** Median ping RTT before any traffic crossed the tunnel. */
  rtt_cold_ms: number | null;
  /** RTT minus the bare link's RTT in the same run. */
  rtt_added_ms: number | null;
  /** rtt_cold_ms minus the bare link's cold RTT in the same run. */
  rtt_cold_added_ms: number | null;
  /** CPU during the TCP runs, percent of one core: both iperf3 ends plus the tunnel's daemons. */
  cpu_pct: number | null;
  /** The tunnel's daemons alone, percent of one core. */
  tunnel_cpu_pct: number | null;
  /** The whole machine's busy time during the TCP runs, percent of one core (includes others' load). */
  machine_cpu_pct: number | null;
  /** cpu_pct per Gbit/s of TCP throughput. */
  cpu_pct_per_gbps: number | null;
}

export interface MemoryResult {
  peers_wanted: number;
  peers_established: number;
  rss_mb: number | null;
  status: 'ok' | 'failed';
  reason?: string;
  method: string;
}

export interface Machine {
  cpu_model: string;
  cores: number;
  kernel: string;
  node: string;
  os: string;
  memory_gb: number;
  load_average_at_start: number[];
  date: string;
}

export interface Settings {
  tools: string[];
  tcp_seconds: number;
  runs: number;
  udp_payload_bytes: number;
  pings: number;
}

export interface Target {
  tool: string;
  target: string;
  ratio: number | null;
  limit: string;
  met: boolean | null;
}

export interface Report {
  machine: Machine;
  settings: Settings;
  tools: ToolResult[];
  member_memory: MemoryResult | null;
  targets: Target[];
}

export function describeMachine(): Machine {
  const osRelease = readOptional('/etc/os-release');
  return {
    cpu_model: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    os: /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    load_average_at_start: loadavg().map((value) => Math.round(value * 100) / 100),
    date: new Date().toISOString(),
  };
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

type Metric = 'tcp_mbps_median' | 'udp_pps' | 'rtt_added_ms' | 'rtt_cold_added_ms' | 'rtt_loaded_added_ms' | 'cpu_pct_per_gbps';

function ratio(result: ToolResult, reference: ToolResult | undefined, metric: Metric): number | null {
  const value = result[metric];
  const base = reference?.[metric];
  if (value === null || base === null || base === undefined || base <= 0) return null;
  return value / base;
}

const NEBULA = 'nebula';
const WIREGUARD = 'wireguard-go';
/** Issue 13's targets, judged for the member at its default MTU against each tool at its own. */
const TARGETS: ReadonlyArray<{ metric: Metric; reference: string; target: string; limit: number; atLeast: boolean }> = [
  { metric: 'tcp_mbps_median', reference: NEBULA, target: 'TCP throughput vs Nebula', limit: 2.0, atLeast: true },
  { metric: 'tcp_mbps_median', reference: WIREGUARD, target: 'TCP throughput vs wireguard-go', limit: 2.0, atLeast: true },
  { metric: 'cpu_pct_per_gbps', reference: NEBULA, target: 'CPU per Gbit/s vs Nebula', limit: 0.6, atLeast: false },
  { metric: 'rtt_added_ms', reference: NEBULA, target: 'added RTT over bare vs Nebula, warm', limit: 1.0, atLeast: false },
  { metric: 'rtt_cold_added_ms', reference: NEBULA, target: 'added RTT over bare vs Nebula, cold', limit: 1.0, atLeast: false },
  { metric: 'udp_pps', reference: NEBULA, target: 'UDP datagrams/s vs Nebula', limit: 1.5, atLeast: true },
];
/** The member at its default MTU; the other meshboi rows are shown, not judged. */
const JUDGED = 'meshboi';
export const MEMORY_TARGET_MB = 100;

/** The rows of meshboi through a relay member and through a rolodex: compared with meshboi's direct row (relayedVsDirect), not with Nebula's direct one. */
const RELAYED = ['meshboi-relayed', 'meshboi-rolodex-relayed'];

/** The default member's row against Nebula's and wireguard-go's, and the member's memory against its limit. */
export function judgeTargets(tools: readonly ToolResult[], memory: MemoryResult | null): Target[] {
  const targets: Target[] = [];
  for (const result of tools.filter((entry) => entry.tool === JUDGED)) {
    for (const { metric, reference, target, limit, atLeast } of TARGETS) {
      const value = ratio(result, tools.find((entry) => entry.tool === reference), metric);
      const met = value === null ? null : atLeast ? value >= limit : value <= limit;
      targets.push({ tool: result.tool, target, ratio: round(value, 2), limit: `${atLeast ? '>=' : '<='} ${limit}x`, met });
    }
  }
  if (memory) {
    // A figure taken with fewer sessions than asked for cannot show the target is met.
    const met = memory.rss_mb === null || memory.status !== 'ok' ? null : memory.rss_mb < MEMORY_TARGET_MB;
    const target = `member RSS with ${memory.peers_established} of ${memory.peers_wanted} peers established (MB)`;
    targets.push({ tool: 'meshboi', target, ratio: memory.rss_mb, limit: `< ${MEMORY_TARGET_MB} MB`, met });
  }
  return targets;
}

export function round(value: number | null, digits: number): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function figure(value: number | null, digits: number): string {
  return value === null ? '—' : value.toFixed(digits);
}

/** A message fit for one table cell. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '/').trim();
}

function times(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}x`;
}

/** The comparison table in Markdown; the terminal gets the same text. */
export function renderTable(tools: readonly ToolResult[]): string {
  const nebula = tools.find((result) => result.tool === NEBULA);
  const wireguard = tools.find((result) => result.tool === WIREGUARD);
  const columns = (metric: Metric, digits: number, result: ToolResult): string[] => [
    figure(result[metric], digits),
    times(ratio(result, nebula, metric)),
    times(ratio(result, wireguard, metric)),
  ];
  const header = [
    'tool', 'MTU', 'TCP Mbit/s', 'vs neb', 'vs wg', 'UDP pps', 'vs neb', 'vs wg', 'RTT ms',
    'added RTT ms', 'vs neb', 'vs wg', 'cold added RTT ms', 'vs neb', 'vs wg', 'loaded added RTT ms', 'vs neb', 'vs wg', 'CPU %', 'CPU %/Gbit/s', 'vs neb', 'vs wg',
  ];
  const rows = tools.map((result) =>
    result.tcp_mbps_median === null && result.udp_pps === null && result.rtt_ms === null
      ? [result.tool, figure(result.mtu ?? null, 0), `FAILED: ${oneLine(result.reason ?? 'unknown')}`, ...header.slice(3).map(() => '')]
      : [
          result.tool,
          figure(result.mtu ?? null, 0),
          ...columns('tcp_mbps_median', 0, result),
          ...columns('udp_pps', 0, result),
          figure(result.rtt_ms, 3),
          ...columns('rtt_added_ms', 3, result),
          ...columns('rtt_cold_added_ms', 3, result),
          ...columns('rtt_loaded_added_ms', 3, result),
          figure(result.cpu_pct, 0),
          ...columns('cpu_pct_per_gbps', 1, result),
        ],
  );
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** What a relay costs: each relayed row's TCP, added RTT and UDP as ratios of the direct row's, measured in the same run. */
export function relayedVsDirect(tools: readonly ToolResult[]): string {
  const direct = tools.find((result) => result.tool === 'meshboi');
  if (!direct) return '';
  const lines: string[] = [];
  for (const name of RELAYED) {
    const relayed = tools.find((result) => result.tool === name);
    if (!relayed) continue;
    const figure = (metric: Metric): number | string => round(ratio(relayed, direct, metric), 2) ?? '—';
    lines.push(`- ${name} vs meshboi direct: TCP ${figure('tcp_mbps_median')}x, UDP ${figure('udp_pps')}x, added RTT ${figure('rtt_added_ms')}x`);
  }
  return lines.join('\n');
}

export function renderTargets(targets: readonly Target[]): string {
  if (targets.length === 0) return 'No meshboi figures in this run, so no targets were judged.';
  const verdict = (met: boolean | null): string => (met === null ? 'not judged (not measured as asked)' : met ? 'met' : 'NOT met');
  return targets.map((entry) => `- ${entry.tool}: ${entry.target}: ${entry.ratio ?? '—'} (target ${entry.limit}): ${verdict(entry.met)}`).join('\n');
}

export function renderMarkdown(report: Report): string {
  const { machine, settings } = report;
  const failures = report.tools.filter((result) => result.reason).map((result) => `- ${result.tool}: ${oneLine(result.reason ?? "")}`);
  const memory = report.member_memory;
  return [
    '# meshboi benchmark: latest run',
    '',
    `${machine.date}. ${machine.cpu_model}, ${machine.cores} cores, ${machine.memory_gb} GiB, ${machine.os}, kernel ${machine.kernel}, Node.js ${machine.node}; load average at start ${machine.load_average_at_start.join(' ')}.`,
    '',
    `Two lab hosts (network namespaces) on the lab's internet segment, a veth pair from each into one bridge. TCP: one iperf3 stream for ${settings.tcp_seconds} s, median of ${settings.runs}. ` +
      `UDP: iperf3 -u -b 0 -l ${settings.udp_payload_bytes} (as fast as iperf3 sends) for ${settings.tcp_seconds} s, datagrams received per second, median of ${settings.runs}; ` +
      'a datagram above a tunnel\'s MTU crosses as IP fragments, so host B\'s ipfrag_time is 3 s and each run first waits for the half-built datagrams the previous flood left to expire. ' +
      `RTT: median of ${settings.pings} pings 0.2 s apart, taken after the TCP runs (warm), the same before any traffic crossed the tunnel (cold), and pings 0.2 s apart during each TCP run from its first second on (loaded, the median of the runs' medians); added RTT is over the bare link's in this run. ` +
      'CPU: during the TCP runs, CPU time of both iperf3 ends (their own report), the tunnel\'s processes (/proc/<pid>/stat) and the ' +
      'machine\'s interrupt and softirq time (/proc/stat: the network stack\'s work, charged to no process), in percent of one core; ' +
      'CPU %/Gbit/s divides that by the throughput. The machine\'s total busy time is in latest.json as machine_cpu_pct.',
    '',
    `Versions: ${report.tools.map((result) => `${result.tool}: ${result.version ?? 'not started'}`).join('; ')}.`,
    '',
    renderTable(report.tools),
    '',
    '## Targets',
    '',
    renderTargets(report.targets),
    relayedVsDirect(report.tools),
    '',
    ...(memory
      ? ['## Member memory', '', `${memory.rss_mb === null ? 'not measured' : `${memory.rss_mb} MB RSS`} with ${memory.peers_established} of ${memory.peers_wanted} peers established. ${memory.method}${memory.reason ? ` Failure: ${memory.reason}` : ''}`, '']
      : []),
    ...(failures.length ? ['## Failures', '', ...failures, ''] : []),
  ].join('\n');
}
