// `npm run bench` (as root): meshboi against the bare link, wireguard-go and Nebula on the same
// two-host lab in the same run; prints one comparison table and writes bench/results/latest.*.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Lab } from '../lab/lab';
import { findExecutable, isRoot } from '../lab/tools';
import { bareLink } from './vpn-bare';
import { measureRtt, measureTcp, measureUdp, median, shortenReassemblyTimeout, type TcpRun } from './vpn-measure';
import { measureMemberMemory } from './vpn-memory';
import { meshboi1420, meshboiDefault, meshboiFixedMtu, meshboiLargest, meshboiRelayed, meshboiRolodexRelayed, profileMembers } from './vpn-meshboi';
import { nebula } from './vpn-nebula';
import { findProfile, loadProfile, renderProfiles, summariseProfile, type ProfileSummary } from './vpn-profile';
import {
  describeMachine, judgeTargets, relayedVsDirect, renderMarkdown, renderTable, renderTargets, round,
  type MemoryResult, type Report, type Settings, type ToolResult,
} from './vpn-report';
import { assertTunnelIntact, type HostPair, type Tunnel, type TunnelTool } from './vpn-tunnel';
import { wireguardGo } from './vpn-wireguard';

const TOOLS: readonly TunnelTool[] = [bareLink, wireguardGo, nebula, meshboiDefault, meshboiLargest, meshboiRelayed, meshboiRolodexRelayed];
/** Measured only when --tools names them. */
const NAMED_ONLY_TOOLS: readonly TunnelTool[] = [meshboi1420, meshboiFixedMtu];
const MEMORY = 'member-memory';
/** Host B's ipfrag_time during the run (Linux's default is 30 s); see shortenReassemblyTimeout. */
const REASSEMBLY_TIMEOUT_SECONDS = 3;
const RESULTS_FOLDER = path.resolve(__dirname, '..', '..', 'bench', 'results');

const USAGE = `usage: sudo npm run bench -- [options]
  --tools LIST     comma-separated subset of: ${[...TOOLS.map((tool) => tool.name), MEMORY].join(', ')} (default: all),
                   or also ${NAMED_ONLY_TOOLS.map((tool) => tool.name).join(', ')}
  --duration S     seconds per TCP and UDP run (default 10)
  --runs N         TCP and UDP runs per tool; the median is reported (default 3)
  --pings N        pings for the RTT median (default 20)
  --quick          a quick check: --duration 3 --runs 1 --pings 5
  --memory-peers N peers of the member whose memory is measured (default 50)
  --profile        run the meshboi members under V8's CPU profiler and rank their costs in
                   profile.md (instead of latest.*, whose figures the profiler would skew)
  --out FOLDER     where the results go (default bench/results)`;

interface Options {
  settings: Settings;
  memoryPeers: number;
  profile: boolean;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      tools: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string' },
      pings: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'memory-peers': { type: 'string' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string', default: RESULTS_FOLDER },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const known = [...TOOLS.map((tool) => tool.name), ...NAMED_ONLY_TOOLS.map((tool) => tool.name), MEMORY];
  const tools = values.tools ? values.tools.split(',').map((name) => name.trim()).filter(Boolean) : [...TOOLS.map((tool) => tool.name), MEMORY];
  const unknown = tools.filter((name) => !known.includes(name));
  if (unknown.length > 0 || tools.length === 0) {
    throw new Error(`--tools ${values.tools ?? ''}: unknown ${unknown.join(', ') || 'empty list'}; choose from ${known.join(', ')}`);
  }
  const count = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} ${text}: give a whole number of at least 1`);
    return value;
  };
  return {
    settings: {
      tools,
      tcp_seconds: count('duration', values.duration, values.quick ? 3 : 10),
      runs: count('runs', values.runs, values.quick ? 1 : 3),
      pings: count('pings', values.pings, values.quick ? 5 : 20),
      udp_payload_bytes: 1300,
    },
    memoryPeers: count('memory-peers', values['memory-peers'], 50),
    profile: values.profile,
    out: path.resolve(values.out),
  };
}

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Installs the Debian packages behind any missing executables; rejects with apt-get's own words. */
async function ensureInstalled(needs: TunnelTool['needs']): Promise<void> {
  const packages = [...new Set(needs.filter(({ tool }) => findExecutable(tool) === null).map(({ debianPackage }) => debianPackage))];
  if (packages.length === 0) return;
  const aptGet = (args: string[]): Promise<string> =>
    new Promise((resolve) => {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFile('apt-get', args, { env, timeout: 600_000 }, (error, _stdout, stderr) => resolve(error ? stderr.trim() || error.message : ''));
    });
  say(`installing ${packages.join(' ')} with apt-get`);
  const install = ['install', '-y', '-qq', '--no-install-recommends', ...packages];
  // A stale package list is the usual reason an install fails on a fresh machine.
  let failure = await aptGet(install);
  if (failure) {
    await aptGet(['update', '-qq']);
    failure = await aptGet(install);
  }
  const stillMissing = needs.filter(({ tool }) => findExecutable(tool) === null).map(({ tool }) => tool);
  if (stillMissing.length > 0) throw new Error(`could not install ${packages.join(' ')} (missing ${stillMissing.join(', ')}): ${failure || 'apt-get said nothing'}`);
}

function emptyResult(tool: string): ToolResult {
  return {
    tool, status: 'ok', tcp_mbps_runs: [], tcp_mbps_median: null, udp_pps_runs: [], udp_pps: null, rtt_ms: null,
    tcp_retransmits: null, rtt_cold_ms: null, rtt_added_ms: null, rtt_cold_added_ms: null, rtt_loaded_ms: null, rtt_loaded_added_ms: null, cpu_pct: null, tunnel_cpu_pct: null, machine_cpu_pct: null, cpu_pct_per_gbps: null,
  };
}

interface Contender {
  tool: TunnelTool;
  tunnel: Tunnel | null;
  result: ToolResult;
  tcpRuns: TcpRun[];
  errors: string[];
}

/** Runs one step for one tool; a failure is recorded against that tool and the others go on. */
async function attempt(pair: HostPair, contender: Contender, what: string, step: (tunnel: Tunnel) => Promise<void>): Promise<void> {
  if (!contender.tunnel) return;
  try {
    await assertTunnelIntact(pair[0], contender.tunnel);
    await step(contender.tunnel);
    await assertTunnelIntact(pair[0], contender.tunnel);
  } catch (error) {
    const state = await contender.tunnel.diagnose?.().catch((failure: unknown) => `no state: ${message(failure)}`);
    const text = `${what}: ${message(error)}${state ? ` (${contender.tool.name} said: ${state})` : ''}`;
    contender.errors.push(text);
    say(`${contender.tool.name}: ${text}`);
  }
}

/**
 * Every tool's tunnel up at once on one lab, then each measurement taken tool after tool, run
 * after run: on a machine shared with other work, interleaving spreads background load evenly
 * over the tools instead of penalising whichever ran during a busy minute.
 */
async function benchAll(tools: readonly TunnelTool[], settings: Settings): Promise<ToolResult[]> {
  const contenders: Contender[] = tools.map((tool) => ({ tool, tunnel: null, result: emptyResult(tool.name), tcpRuns: [], errors: [] }));
  const lab = await Lab.create({ public: ['a', 'b', 'relay'] });
  try {
    const pair = [lab.host('a'), lab.host('b')] as const;
    await shortenReassemblyTimeout(pair[1], REASSEMBLY_TIMEOUT_SECONDS);
    for (const contender of contenders) {
      const { tool, result } = contender;
      try {
        await ensureInstalled(tool.needs);
        const workDir = path.join(lab.folder, tool.name);
        await mkdir(workDir, { recursive: true, mode: 0o700 });
        contender.tunnel = await tool.up(pair, workDir, lab.host('relay'));
        result.mtu = contender.tunnel.mtu;
        result.version = contender.tunnel.version;
        say(`${tool.name}: up (${result.version}, MTU ${result.mtu})`);
      } catch (error) {
        contender.errors.push(`did not come up: ${message(error)}`);
        say(`${tool.name}: did not come up: ${message(error)}`);
      }
    }
    const eachTool = async (what: string, step: (contender: Contender, tunnel: Tunnel) => Promise<void>): Promise<void> => {
      for (const contender of contenders) await attempt(pair, contender, what, (tunnel) => step(contender, tunnel));
    };
    const ping = (what: string, field: 'rtt_ms' | 'rtt_cold_ms'): Promise<void> =>
      eachTool(what, async ({ result }, tunnel) => {
        result[field] = round(await measureRtt(pair[0], tunnel.serverAddress, settings.pings), 4);
      });
    await ping('ping before any traffic', 'rtt_cold_ms');
    for (let index = 1; index <= settings.runs; index++) {
      await eachTool(`TCP run ${index}`, async ({ tool, tcpRuns }, tunnel) => {
        const run = await measureTcp(pair, tunnel.serverAddress, settings.tcp_seconds, tunnel.daemons);
        tcpRuns.push(run);
        say(`${tool.name}: TCP run ${index}: ${run.mbps.toFixed(0)} Mbit/s, CPU ${run.cpuPct.toFixed(0)}% ` +
          `(tunnel ${run.tunnelCpuPct.toFixed(0)}%, softirq ${run.interruptCpuPct.toFixed(0)}%, machine ${run.machineCpuPct.toFixed(0)}%), ${run.retransmits} retransmits, RTT under load ${run.loadedRttMs.toFixed(2)} ms`);
      });
    }
    // The RTT figure is taken warm, after the TCP runs, so a JIT-compiled data path (ours) is
    // compared in its steady state with compiled ones; the cold figure is kept beside it.
    await ping('ping', 'rtt_ms');
    for (let index = 1; index <= settings.runs; index++) {
      await eachTool(`UDP run ${index}`, async ({ tool, result }, tunnel) => {
        const pps = await measureUdp(pair, tunnel.serverAddress, settings.tcp_seconds, settings.udp_payload_bytes);
        result.udp_pps_runs.push(Math.round(pps));
        say(`${tool.name}: UDP run ${index}: ${Math.round(pps)} datagrams/s received`);
      });
    }
  } finally {
    await lab.teardown();
  }
  return contenders.map(summarise);
}

function summarise({ result, tcpRuns, errors }: Contender): ToolResult {
  const medianOf = (pick: (run: TcpRun) => number, digits: number): number | null => round(median(tcpRuns.map(pick)), digits);
  if (tcpRuns.length > 0) {
    result.tcp_mbps_runs = tcpRuns.map((run) => round(run.mbps, 1) as number);
    result.tcp_mbps_median = medianOf((run) => run.mbps, 1);
    result.tcp_retransmits = medianOf((run) => run.retransmits, 0);
    result.cpu_pct = medianOf((run) => run.cpuPct, 1);
    result.tunnel_cpu_pct = medianOf((run) => run.tunnelCpuPct, 1);
    result.machine_cpu_pct = medianOf((run) => run.machineCpuPct, 1);
    result.cpu_pct_per_gbps = medianOf((run) => run.cpuPct / (run.mbps / 1000), 2);
    result.rtt_loaded_ms = medianOf((run) => run.loadedRttMs, 4);
  }
  if (result.udp_pps_runs.length > 0) result.udp_pps = Math.round(median(result.udp_pps_runs));
  if (errors.length > 0) {
    result.status = 'failed';
    result.reason = errors.join('; ');
  }
  return result;
}

/** Ranks each profiled member's costs into profile.md; the .cpuprofile files stay for DevTools. */
async function writeProfiles(members: readonly { label: string; pid: number }[], folder: string, out: string, tools: readonly ToolResult[]): Promise<void> {
  const summaries: ProfileSummary[] = [];
  for (const { label, pid } of members) {
    const file = await findProfile(folder, pid);
    if (file) summaries.push(summariseProfile(label, file, await loadProfile(file)));
    else say(`profile: none written by pid ${pid} (${label})`);
  }
  const figures = tools.map((result) => `${result.tool} ${result.tcp_mbps_median ?? '—'} Mbit/s TCP, ${result.udp_pps ?? '—'} UDP datagrams/s`).join('; ');
  const text = [
    "# Where meshboi's members spend their CPU",
    '',
    `Written by \`npm run bench -- ${process.argv.slice(2).join(' ')}\`: the members ran under the V8 sampling profiler through every ` +
      'measurement of the run; self time per function, idle time left out. The .cpuprofile files are in profiles/ beside this ' +
      `file, for Chrome DevTools. Figures of this run: ${figures}.`,
    '',
    renderProfiles(summaries),
  ].join('\n');
  await writeFile(path.join(out, 'profile.md'), text);
  process.stdout.write(`\n${text}\n`);
}

async function main(): Promise<void> {
  const { settings, memoryPeers, profile, out } = parseOptions(process.argv.slice(2));
  if (!isRoot()) throw new Error('the benchmark builds network namespaces and TUN devices: run it as root (sudo npm run bench)');
  const machine = describeMachine();
  say(`${machine.cpu_model}, ${machine.cores} cores, kernel ${machine.kernel}, Node.js ${machine.node}`);
  const profileFolder = path.join(out, 'profiles');
  const profiled = profile ? profileMembers(profileFolder) : [];
  if (profile) {
    await rm(profileFolder, { recursive: true, force: true });
    await mkdir(profileFolder, { recursive: true });
  }
  const selected = [...TOOLS, ...NAMED_ONLY_TOOLS].filter((candidate) => settings.tools.includes(candidate.name));
  const tools = selected.length > 0 ? await benchAll(selected, settings) : [];
  const bare = tools.find((result) => result.tool === bareLink.name);
  for (const result of tools) {
    if (result.rtt_ms !== null && bare?.rtt_ms != null) result.rtt_added_ms = round(result.rtt_ms - bare.rtt_ms, 4);
    if (result.rtt_cold_ms !== null && bare?.rtt_cold_ms != null) result.rtt_cold_added_ms = round(result.rtt_cold_ms - bare.rtt_cold_ms, 4);
    if (result.rtt_loaded_ms !== null && bare?.rtt_loaded_ms != null) result.rtt_loaded_added_ms = round(result.rtt_loaded_ms - bare.rtt_loaded_ms, 4);
  }
  const memory: MemoryResult | null = settings.tools.includes(MEMORY) ? await measureMemberMemory(memoryPeers, say) : null;
  const report: Report = { machine, settings, tools, member_memory: memory, targets: judgeTargets(tools, memory) };
  await mkdir(out, { recursive: true });
  // A profiled run's figures carry the profiler's overhead, so it leaves latest.* as they were.
  // Each run also keeps a dated copy of its table, so history.md can point at the run it reads.
  const dated = `${machine.date.slice(0, 16).replace(/[T:]/g, '-')}.md`;
  const written = profile ? 'profile.md' : `latest.json, latest.md and ${dated}`;
  if (profile) {
    await writeProfiles(profiled, profileFolder, out, tools);
  } else {
    await writeFile(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(path.join(out, 'latest.md'), renderMarkdown(report));
    await writeFile(path.join(out, dated), renderMarkdown(report));
  }
  const table = tools.length > 0 ? `${renderTable(tools)}\n\n` : '';
  const failures = [...tools, ...(memory ? [{ tool: MEMORY, reason: memory.reason }] : [])]
    .filter((entry) => entry.reason)
    .map((entry) => `failed: ${entry.tool}: ${entry.reason}\n`)
    .join('');
  const relayed = relayedVsDirect(report.tools);
  process.stdout.write(`\n${table}${failures}${failures ? '\n' : ''}${renderTargets(report.targets)}\n${relayed ? `${relayed}\n` : ''}\nwritten to ${written} in ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${message(error)}\n`);
  process.exitCode = 1;
});
