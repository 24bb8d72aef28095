// `npm run bench:rolodex`: the real rolodex process under load from separate load-generator
// processes on loopback. Scenario 1: many members in many small networks, steady heartbeats.
// Scenario 2: one large network mapped from scratch. Scenario 3: 2,000 of our members behind one
// address, beside the same crowd of original members. Scenario 4: a flood of new names from one
// address while real members heartbeat, beside the same members without it. Figures print
// beside targets or references as ratios.
import { setTimeout as sleep } from 'node:timers/promises';
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { childEnvironment, startRolodexProcess, type RolodexProcess } from '../test/rolodex/rolodex-process';
import { packChunks, parseEndpoint, renderEntry, type Endpoint } from '../src/rolodex-wire';
import { loopbackAddress, type FromWorker, type LoadConfig, type ToWorker } from './rolodex-load';

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '100000' },
    networks: { type: 'string', default: '10000' },
    'big-network': { type: 'string', default: '5000' },
    workers: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '20' },
    scenario: { type: 'string', default: 'all' },
    crowd: { type: 'string', default: '2000' },
    flood: { type: 'string', default: '100000' },
  },
});
const MEMBERS = Number(args.members);
const NETWORKS = Number(args.networks);
const BIG_NETWORK = Number(args['big-network']);
const WORKERS = Number(args.workers);
const MEASURE_SECONDS = Number(args.seconds);
const HEARTBEAT_MS = 5000;
const TARGET_CORES = 0.5;
const TARGET_RSS_MB = 300;
const CROWD = Number(args.crowd);
const FLOOD = Number(args.flood);
const CROWD_TARGET_MS = 15_000;
const FLOOD_TARGET_CORES = 0.25;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/**
 * Datagrams the kernel dropped at the UDP socket bound to `port` (its receive buffer was full),
 * asked of `ss` with a filter, since reading /proc/net/udp with 100,000 sockets open takes minutes.
 */
function socketDrops(port: number): number {
  const out = execFileSync('ss', ['-uanmH', `sport = :${port}`]).toString();
  return Number(/,d(\d+)\)/.exec(out)?.[1] ?? 0);
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function processUsage(pid: number): { cpuSeconds: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds, rssMb: rss ? Number(rss[1]) / 1024 : 0 };
}

interface Summary {
  at: number;
  heartbeats: number;
  datagramsOut: number;
  throttled: number;
  members: number;
  catchingUp: number;
}

function summaries(rolodex: RolodexProcess): Summary[] {
  return rolodex.lines
    .filter((line) => line.message === 'summary')
    .map((line) => ({
      at: Date.parse(String(line.timestamp)),
      heartbeats: Number(line.heartbeats),
      datagramsOut: Number(line.datagramsOut),
      throttled: Number(line.throttled),
      members: Number(line.members),
      catchingUp: Number(line.catchingUp),
    }));
}

class Workers {
  private readonly children: ChildProcess[] = [];
  private readonly listeners = new Set<(message: FromWorker) => void>();
  readonly keys: string[][] = [];

  static async start(
    rolodexPort: number,
    members: number,
    membersPerNetwork: number,
    count: number,
    kind: Pick<LoadConfig, 'address' | 'ours'> = {},
  ): Promise<Workers> {
    const workers = new Workers();
    const share = Math.ceil(members / count);
    const bound: Array<Promise<void>> = [];
    for (let w = 0; w < count; w++) {
      const config: LoadConfig = {
        rolodexPort,
        firstIndex: w * share,
        count: Math.min(share, members - w * share),
        membersPerNetwork,
        heartbeatMs: HEARTBEAT_MS,
        ...kind,
      };
      const child = fork(path.join(__dirname, 'rolodex-load.js'), [], { env: childEnvironment(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workers.children.push(child);
      child.on('message', (message: FromWorker) => workers.listeners.forEach((listener) => listener(message)));
      bound.push(
        new Promise((resolve) => {
          child.on('message', (message: FromWorker) => {
            if (message.type === 'bound') {
              workers.keys[w] = message.keys;
              resolve();
            }
          });
        }),
      );
      child.send({ type: 'config', config } satisfies ToWorker);
    }
    await Promise.all(bound);
    return workers;
  }

  get count(): number {
    return this.children.length;
  }

  broadcast(message: ToWorker): void {
    for (const child of this.children) child.send(message);
  }

  /** When the last worker reported that all of its members know everyone (each reports once). */
  allMapped(): Promise<number> {
    return new Promise((resolve) => {
      let reports = 0;
      let latest = 0;
      this.on((message) => {
        if (message.type !== 'mapped') return;
        latest = Math.max(latest, message.at);
        if (++reports === this.count) resolve(latest);
      });
    });
  }

  on(listener: (message: FromWorker) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Heartbeats sent, map datagrams received and members knowing all, summed over workers from their latest reports. */
  trackTraffic(): { sent: () => number; received: () => number; mapped: () => number; stop: () => void } {
    const latest = new Map<number, { sent: number; received: number; mapped: number }>();
    const stop = this.on((message) => {
      if (message.type === 'stats') latest.set(message.worker, message);
    });
    const total = (field: 'sent' | 'received' | 'mapped'): number => [...latest.values()].reduce((sum, report) => sum + report[field], 0);
    return { sent: () => total('sent'), received: () => total('received'), mapped: () => total('mapped'), stop };
  }

  /** Asks every worker to stop; one still running after 10 s is killed. */
  async stop(): Promise<void> {
    const exits = this.children.map((child) =>
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)),
    );
    for (const child of this.children) if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
    const killer = setTimeout(() => this.children.forEach((child) => child.kill('SIGKILL')), 10_000);
    await Promise.all(exits);
    clearTimeout(killer);
  }
}

/** A newcomer joins `network`; resolves with the ms until every other member's map showed it. */
async function probeJoin(workers: Workers, rolodexPort: number, network: string, index: number, expectedMembers: number): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, loopbackAddress(index), resolve));
  const key = `${loopbackAddress(index)}:${socket.address().port}`;
  try {
    let remaining = expectedMembers;
    let lastAt = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error(`the newcomer in ${network} did not reach every member within 30 s`)), 30_000);
      const off = workers.on((message) => {
        if (message.type === 'probe-seen' && message.key === key) {
          remaining -= message.members;
          lastAt = Math.max(lastAt, message.at);
          if (remaining <= 0) {
            clearTimeout(timeout);
            off();
            resolve();
          }
        }
      });
    });
    // Every worker confirms it watches before the newcomer's first heartbeat leaves.
    const ready = new Promise<void>((resolve) => {
      let confirmations = 0;
      const off = workers.on((message) => {
        if (message.type === 'probe-ready' && message.key === key && ++confirmations === workers.count) {
          off();
          resolve();
        }
      });
    });
    workers.broadcast({ type: 'probe', key, network });
    await ready;
    const joinedAt = Date.now();
    // Heartbeats every interval as a member would, in case the first is lost in a full socket buffer.
    const heartbeat = (): void => socket.send(JSON.stringify({ NetworkName: network }), rolodexPort, '127.0.0.1');
    heartbeat();
    const repeat = setInterval(heartbeat, HEARTBEAT_MS);
    try {
      await done;
    } finally {
      clearInterval(repeat);
    }
    return lastAt - joinedAt;
  } finally {
    socket.close();
  }
}

function progress(rolodex: RolodexProcess, heartbeatsSent: number): void {
  const last = summaries(rolodex).at(-1);
  if (!last) return;
  console.log(
    `  load generators sent ${heartbeatsSent} heartbeats; rolodex: ${last.members} members, ${last.heartbeats} heartbeats, ` +
      `${socketDrops(rolodex.port)} dropped by the kernel, ${last.datagramsOut} maps sent, ${last.throttled} throttled`,
  );
}

function ratio(measured: number, target: number): string {
  return `${(measured / target).toFixed(3)}`;
}

function row(what: string, measured: string, target: string, ratioText: string): void {
  console.log(`${what.padEnd(58)} ${measured.padStart(14)} ${target.padStart(14)} ${ratioText.padStart(8)}`);
}

function header(title: string): void {
  console.log(`\n${title}`);
  row('figure', 'measured', 'reference', 'ratio');
}

async function manyNetworks(): Promise<void> {
  const membersPerNetwork = Math.ceil(MEMBERS / NETWORKS);
  const rolodex = await startRolodexProcess(['--summary-interval', '1', '--max-members', String(MEMBERS + 1000)]);
  let workers: Workers | null = null;
  try {
    workers = await Workers.start(rolodex.port, MEMBERS, membersPerNetwork, WORKERS);
    const traffic = workers.trackTraffic();
    workers.broadcast({ type: 'start' });
    console.log(`scenario 1: ${MEMBERS} members in ${NETWORKS} networks, heartbeating every ${HEARTBEAT_MS / 1000} s; ramping up`);
    // Measure once every member has joined and two more intervals have passed, so the window
    // holds steady heartbeats and maps, not the join burst.
    const rampDeadline = Date.now() + 120_000;
    do {
      await sleep(HEARTBEAT_MS);
      progress(rolodex, traffic.sent());
    } while ((summaries(rolodex).at(-1)?.members ?? 0) < MEMBERS && Date.now() < rampDeadline);
    await sleep(HEARTBEAT_MS * 2);
    progress(rolodex, traffic.sent());
    const startUsage = processUsage(rolodex.child.pid as number);
    const startSummary = summaries(rolodex).at(-1) as Summary;
    const startReceived = traffic.received();
    const startDrops = socketDrops(rolodex.port);
    let peakRss = startUsage.rssMb;
    for (let s = 0; s < MEASURE_SECONDS; s++) {
      await sleep(1000);
      peakRss = Math.max(peakRss, processUsage(rolodex.child.pid as number).rssMb);
    }
    const endUsage = processUsage(rolodex.child.pid as number);
    const endSummary = summaries(rolodex).at(-1) as Summary;
    const seconds = (endSummary.at - startSummary.at) / 1000;
    const cores = (endUsage.cpuSeconds - startUsage.cpuSeconds) / MEASURE_SECONDS;
    const heartbeatsPerSecond = (endSummary.heartbeats - startSummary.heartbeats) / seconds;
    const mapsPerSecond = (endSummary.datagramsOut - startSummary.datagramsOut) / seconds;
    const receivedPerSecond = (traffic.received() - startReceived) / MEASURE_SECONDS;
    const droppedPerSecond = (socketDrops(rolodex.port) - startDrops) / MEASURE_SECONDS;
    console.log(`  measured ${MEASURE_SECONDS} s; now 5 newcomers join, one at a time`);
    const joinTimes: number[] = [];
    for (let p = 0; p < 5; p++) {
      const network = Math.floor((p * NETWORKS) / 5);
      joinTimes.push(await probeJoin(workers, rolodex.port, `net-${network}`, MEMBERS + 10 + p, membersPerNetwork));
      console.log(`  newcomer in net-${network} reached every member after ${joinTimes[p]} ms`);
    }
    traffic.stop();
    const offered = MEMBERS / (HEARTBEAT_MS / 1000);
    header(`scenario 1 results (${MEASURE_SECONDS} s window, rolodex pid ${String(rolodex.child.pid)})`);
    row('members registered', String(endSummary.members), String(MEMBERS), ratio(endSummary.members, MEMBERS));
    row('heartbeats/s handled (ref: offered)', heartbeatsPerSecond.toFixed(0), offered.toFixed(0), ratio(heartbeatsPerSecond, offered));
    row('maps/s sent (ref: one per member per 5 s)', mapsPerSecond.toFixed(0), offered.toFixed(0), ratio(mapsPerSecond, offered));
    row('maps/s received by the load generators', receivedPerSecond.toFixed(0), mapsPerSecond.toFixed(0), ratio(receivedPerSecond, mapsPerSecond));
    row('heartbeats/s lost in a full socket buffer', droppedPerSecond.toFixed(0), offered.toFixed(0), ratio(droppedPerSecond, offered));
    row('rolodex CPU, cores (target < 0.5)', cores.toFixed(3), TARGET_CORES.toFixed(3), ratio(cores, TARGET_CORES));
    const microseconds = (cores * 1e6) / (heartbeatsPerSecond + mapsPerSecond);
    row('rolodex CPU per datagram in or out, us', microseconds.toFixed(1), '-', '-');
    const scaled = (microseconds * 2 * offered) / 1e6;
    row('rolodex CPU at the offered load (1 in + 1 out each), cores', scaled.toFixed(3), TARGET_CORES.toFixed(3), ratio(scaled, TARGET_CORES));
    row('rolodex peak RSS, MB (target < 300)', peakRss.toFixed(1), TARGET_RSS_MB.toFixed(1), ratio(peakRss, TARGET_RSS_MB));
    row('join to in everyone\'s map, worst of 5, ms (ref: 5 s)', Math.max(...joinTimes).toFixed(1), String(HEARTBEAT_MS), ratio(Math.max(...joinTimes), HEARTBEAT_MS));
    row('throttled sends', String(endSummary.throttled), '0', '-');
  } finally {
    await workers?.stop();
    await rolodex.stop();
  }
}

async function oneBigNetwork(): Promise<void> {
  const rolodex = await startRolodexProcess(['--summary-interval', '1']);
  let workers: Workers | null = null;
  try {
    const workerCount = Math.min(WORKERS, 4);
    workers = await Workers.start(rolodex.port, BIG_NETWORK, BIG_NETWORK, workerCount);
    const everyone = workers.keys.flat();
    const mapped = workers.allMapped();
    const startUsage = processUsage(rolodex.child.pid as number);
    const startedAt = Date.now();
    workers.broadcast({ type: 'start', everyone });
    console.log(`\nscenario 2: one network of ${BIG_NETWORK} members joining over ${HEARTBEAT_MS / 1000} s, until each knows all`);
    let peakRss = startUsage.rssMb;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, processUsage(rolodex.child.pid as number).rssMb)), 500);
    let giveUp: NodeJS.Timeout | undefined;
    const mappedAt = await Promise.race([mapped, new Promise<number>((resolve) => (giveUp = setTimeout(() => resolve(Number.NaN), 180_000)))]);
    clearTimeout(giveUp);
    const mappedUsage = processUsage(rolodex.child.pid as number);
    const mappedSummary = summaries(rolodex).at(-1) as Summary;
    await sleep(HEARTBEAT_MS * 2);
    const steadyStart = summaries(rolodex).at(-1) as Summary;
    await sleep(MEASURE_SECONDS * 1000);
    const steadyEnd = summaries(rolodex).at(-1) as Summary;
    clearInterval(rssTimer);
    const steadyMapsPerSecond = (steadyEnd.datagramsOut - steadyStart.datagramsOut) / ((steadyEnd.at - steadyStart.at) / 1000);
    const sentPerMember = mappedSummary.datagramsOut / BIG_NETWORK;
    const rolodexDone = summaries(rolodex).find((line) => line.members === BIG_NETWORK && line.catchingUp === 0);
    const wholeList = packChunks(everyone.map((key) => renderEntry(parseEndpoint(key) as Endpoint, [])), false).length;
    const probe = await probeJoin(workers, rolodex.port, 'net-0', BIG_NETWORK + 10, BIG_NETWORK);
    const perMemberPerInterval = (steadyMapsPerSecond * (HEARTBEAT_MS / 1000)) / steadyEnd.members;
    header(`scenario 2 results (rolodex pid ${String(rolodex.child.pid)})`);
    row('time until all know all, s (ref: 5 s ramp)', ((mappedAt - startedAt) / 1000).toFixed(2), (HEARTBEAT_MS / 1000).toFixed(2), ratio(mappedAt - startedAt, HEARTBEAT_MS));
    const sentAll = rolodexDone ? (rolodexDone.at - startedAt) / 1000 : Number.NaN;
    row('time until the rolodex had sent all it owed, s (±1 s)', sentAll.toFixed(2), (HEARTBEAT_MS / 1000).toFixed(2), ratio(sentAll, HEARTBEAT_MS / 1000));
    row('members registered in the steady window', String(steadyEnd.members), String(BIG_NETWORK), ratio(steadyEnd.members, BIG_NETWORK));
    row('datagrams sent until then, per member (ref: whole list)', sentPerMember.toFixed(1), String(wholeList), ratio(sentPerMember, wholeList));
    row('rolodex CPU seconds until then', (mappedUsage.cpuSeconds - startUsage.cpuSeconds).toFixed(2), '-', '-');
    row('steady maps per member per 5 s (original: whole list)', perMemberPerInterval.toFixed(2), String(wholeList), ratio(perMemberPerInterval, wholeList));
    row('rolodex peak RSS, MB (target < 300)', peakRss.toFixed(1), TARGET_RSS_MB.toFixed(1), ratio(peakRss, TARGET_RSS_MB));
    row('join to in everyone\'s map, ms (ref: 5 s)', probe.toFixed(1), String(HEARTBEAT_MS), ratio(probe, HEARTBEAT_MS));
    row('throttled sends', String(steadyEnd.throttled), '0', '-');
  } finally {
    await workers?.stop();
    await rolodex.stop();
  }
}

/**
 * One crowd of CROWD members in one network, all on one address, from a fresh rolodex: the ms
 * until every member knew all (NaN if not within `giveUpMs`), and how many did by then.
 */
async function crowd(ours: boolean, giveUpMs: number): Promise<{ ms: number; mapped: number }> {
  const rolodex = await startRolodexProcess(['--summary-interval', '1']);
  let workers: Workers | null = null;
  try {
    workers = await Workers.start(rolodex.port, CROWD, CROWD, 2, { address: '127.50.0.1', ours });
    const traffic = workers.trackTraffic();
    const mapped = workers.allMapped();
    const startedAt = Date.now();
    workers.broadcast({ type: 'start', everyone: workers.keys.flat() });
    let giveUp: NodeJS.Timeout | undefined;
    const mappedAt = await Promise.race([mapped, new Promise<number>((resolve) => (giveUp = setTimeout(() => resolve(Number.NaN), giveUpMs)))]);
    clearTimeout(giveUp);
    // The workers report every second: wait for a report after the end.
    await sleep(1100);
    const count = Number.isNaN(mappedAt) ? traffic.mapped() : CROWD;
    traffic.stop();
    return { ms: mappedAt - startedAt, mapped: count };
  } finally {
    await workers?.stop();
    await rolodex.stop();
  }
}

async function crowdBehindOneAddress(): Promise<void> {
  console.log(`\nscenario 3: ${CROWD} members in one network behind one address, all joining within 5 s`);
  const reference = await crowd(false, 40_000);
  console.log(`  as original members (no cookie to echo): ${reference.mapped} knew all after ${Number.isNaN(reference.ms) ? '40 s (gave up)' : `${reference.ms} ms`}`);
  const ours = await crowd(true, 40_000);
  console.log(`  as our members (cookies echoed): ${ours.mapped} knew all after ${Number.isNaN(ours.ms) ? '40 s (gave up)' : `${ours.ms} ms`}`);
  header('scenario 3 results');
  row('ours: time until all know all, s (target 15 s)', (ours.ms / 1000).toFixed(2), (CROWD_TARGET_MS / 1000).toFixed(2), ratio(ours.ms, CROWD_TARGET_MS));
  row('ours: members knowing all (ref: the crowd)', String(ours.mapped), String(CROWD), ratio(ours.mapped, CROWD));
  row('originals: members knowing all within 40 s (ref: ours)', String(reference.mapped), String(ours.mapped), ratio(reference.mapped, ours.mapped));
}

/** Sends `count` heartbeats for new names from one socket, evenly over `seconds`; resolves when done. */
async function floodNewNames(rolodexPort: number, count: number, seconds: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.60.0.1', resolve));
  const startedAt = Date.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(count, Math.ceil(((Date.now() - startedAt) / (seconds * 1000)) * count));
      for (; sent < due; sent++) socket.send(`{"NetworkName":"flood-${sent}"}`, rolodexPort, '127.0.0.1');
      if (sent >= count) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  socket.close();
}

async function floodFromOneAddress(): Promise<void> {
  const members = 2000;
  const perNetwork = 10;
  const window = MEASURE_SECONDS;
  const rolodex = await startRolodexProcess(['--summary-interval', '1']);
  let workers: Workers | null = null;
  try {
    workers = await Workers.start(rolodex.port, members, perNetwork, 2, { ours: true });
    const traffic = workers.trackTraffic();
    workers.broadcast({ type: 'start' });
    console.log(`\nscenario 4: ${members} of our members in ${members / perNetwork} networks; ${FLOOD} heartbeats for new names from one address in ${window} s`);
    do await sleep(1000);
    while ((summaries(rolodex).at(-1)?.members ?? 0) < members);
    await sleep(HEARTBEAT_MS * 2);
    const measure = async (during: Promise<void> | null): Promise<{ cores: number; mapsPerMember: number; kernelDrops: number }> => {
      const pid = rolodex.child.pid as number;
      const usage = processUsage(pid);
      const received = traffic.received();
      const drops = socketDrops(rolodex.port);
      const startedAt = Date.now();
      await (during ?? sleep(window * 1000));
      const seconds = (Date.now() - startedAt) / 1000;
      return {
        cores: (processUsage(pid).cpuSeconds - usage.cpuSeconds) / seconds,
        mapsPerMember: ((traffic.received() - received) / members / seconds) * (HEARTBEAT_MS / 1000),
        kernelDrops: socketDrops(rolodex.port) - drops,
      };
    };
    const quiet = await measure(null);
    console.log(`  without the flood: ${quiet.cores.toFixed(3)} cores, ${quiet.mapsPerMember.toFixed(2)} maps per member per 5 s`);
    const flood = floodNewNames(rolodex.port, FLOOD, window);
    const probe = sleep(5000).then(() => probeJoin(workers as Workers, rolodex.port, 'net-7', members + 10, perNetwork));
    const flooded = await measure(flood);
    const joinMs = await probe;
    const last = summaries(rolodex).at(-1) as Summary;
    traffic.stop();
    header(`scenario 4 results (${window} s windows, rolodex pid ${String(rolodex.child.pid)})`);
    row('rolodex CPU during the flood, cores (target < 0.25)', flooded.cores.toFixed(3), FLOOD_TARGET_CORES.toFixed(3), ratio(flooded.cores, FLOOD_TARGET_CORES));
    row('rolodex CPU, cores (ref: same members, no flood)', flooded.cores.toFixed(3), quiet.cores.toFixed(3), ratio(flooded.cores, quiet.cores));
    row('maps per member per 5 s during the flood (ref: no flood)', flooded.mapsPerMember.toFixed(2), quiet.mapsPerMember.toFixed(2), ratio(flooded.mapsPerMember, quiet.mapsPerMember));
    row('datagrams lost in the rolodex socket buffer during the flood', String(flooded.kernelDrops), String(FLOOD), ratio(flooded.kernelDrops, FLOOD));
    row('newcomer in its network\'s maps during the flood, ms (ref: 5 s)', joinMs.toFixed(1), String(HEARTBEAT_MS), ratio(joinMs, HEARTBEAT_MS));
    // Every flood heartbeat names a new network: --network-burst (1,000) at once, then --network-rate (50/s).
    const admitted = 1000 + 50 * window;
    row('flood members admitted (ref: the new-network rate allows)', String(last.members - members), String(admitted), ratio(last.members - members, admitted));
  } finally {
    await workers?.stop();
    await rolodex.stop();
  }
}

async function main(): Promise<void> {
  const chosen = args.scenario === 'all' ? ['1', '2', '3', '4'] : args.scenario === 'both' ? ['1', '2'] : args.scenario.split(',');
  if (chosen.includes('1')) await manyNetworks();
  if (chosen.includes('2')) await oneBigNetwork();
  if (chosen.includes('3')) await crowdBehindOneAddress();
  if (chosen.includes('4')) await floodFromOneAddress();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
