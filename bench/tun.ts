// `npm run bench:tun` (as root): packets/s and Gbit/s of 1,400-byte packets through a TUN device and
// the kernel, each direction, beside a plain UDP socket pair measured in the same run.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { newRunId } from '../lab/names';
import { isRoot, mustRun, runCommand, runCommandSync } from '../lab/tools';
import { openTun, type TunDevice } from '../src/tun/linux';
import { udp4 } from '../test/tun/packets';

const PACKET_BYTES = 1400;
/** UDP payload that makes the whole IPv4 packet PACKET_BYTES long, on both paths. */
const PAYLOAD_BYTES = PACKET_BYTES - 20 - 8;
const ROUNDS = 3;
const WARMUP_MS = 300;
const WINDOW_MS = 2000;
const BATCH = 64;
const TUN_ADDRESS = '10.201.0.1';
/** On the TUN's subnet, so the kernel routes packets for it into the device. */
const TUN_PEER = '10.201.0.2';
const SINK_PORT = 9100;
const JS_PORT = 9101;
const SOURCE_PORT = 9200;
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Linux reports thread CPU times in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const USER_HZ = 100;
const INSIDE_FLAG = '--inside-namespace';

/** What a helper thread does: count datagrams arriving on a port, or send them as fast as it can. */
type HelperTask =
  | { role: 'sink'; port: number; counter: SharedArrayBuffer }
  | { role: 'source'; address: string; port: number; counter: SharedArrayBuffer; stop: SharedArrayBuffer };

interface Measurement {
  offeredPerSecond: number;
  deliveredPerSecond: number;
  /** CPU time of the JavaScript thread per packet it sent or read: the cost under test, whatever the load. */
  jsMicrosPerPacket: number;
}

interface Case {
  direction: 'JS -> kernel' | 'kernel -> JS';
  path: string;
  reference: boolean;
  run(): Promise<Measurement>;
}

if (!isMainThread) {
  runHelper(workerData as HelperTask);
} else if (process.argv.includes(INSIDE_FLAG)) {
  measureAll().catch(fail);
} else {
  runInNamespace().catch(fail);
}

function fail(error: unknown): void {
  process.stderr.write(`bench:tun: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

/** UDP sockets join the namespace of the thread that creates them, so the whole measurement runs inside one. */
async function runInNamespace(): Promise<void> {
  if (!isRoot()) throw new Error('needs root: creates a network namespace and a TUN device; run with sudo');
  const netns = newRunId('mbbench');
  const removeNamespace = () => runCommandSync('ip', ['netns', 'delete', netns]);
  const onSignal = () => {
    removeNamespace();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await mustRun('ip', ['netns', 'add', netns]);
  try {
    const child = await runCommand('ip', ['netns', 'exec', netns, process.execPath, __filename, INSIDE_FLAG], { timeoutMs: 300_000 });
    process.stdout.write(child.stdout);
    process.stderr.write(child.stderr);
    if (child.code !== 0) process.exitCode = child.code;
  } finally {
    removeNamespace();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function measureAll(): Promise<void> {
  await mustRun('ip', ['link', 'set', 'dev', 'lo', 'up']);
  const device = await openTun({ name: 'mbbench0', mtu: 1500, addresses: [`${TUN_ADDRESS}/24`] });
  // Permanent, so a neighbour table filled by other namespaces (it is shared) cannot drop our packets.
  await mustRun('ip', ['neigh', 'replace', TUN_PEER, 'dev', device.name, 'nud', 'permanent']);
  const sinkCount = new Int32Array(new SharedArrayBuffer(4));
  const sink = await startHelper({ role: 'sink', port: SINK_PORT, counter: sinkCount.buffer as SharedArrayBuffer });
  const udp = dgram.createSocket('udp4');
  udp.on('error', () => {});
  try {
    await new Promise<void>((resolve) => udp.bind(JS_PORT, '127.0.0.1', resolve));
    udp.setRecvBufferSize(SOCKET_BUFFER_BYTES);
    const payload = Buffer.alloc(PAYLOAD_BYTES, 0x6d);
    const toSink = udp4(TUN_PEER, TUN_ADDRESS, SOURCE_PORT, SINK_PORT, payload);
    const batch = new Array<Buffer>(BATCH).fill(toSink);
    const outbound = (send: () => void, perCall = 1) => () => measureOutbound(sinkCount, send, perCall);
    const cases: Case[] = [
      { direction: 'JS -> kernel', path: 'UDP socket send (reference)', reference: true, run: outbound(() => udp.send(payload, SINK_PORT, '127.0.0.1')) },
      { direction: 'JS -> kernel', path: 'TUN write, queued, one native call a turn', reference: false, run: outbound(() => device.write(toSink)) },
      { direction: 'JS -> kernel', path: `TUN writeBatch, ${BATCH} a call`, reference: false, run: outbound(() => device.writeBatch(batch), BATCH) },
      { direction: 'kernel -> JS', path: 'UDP socket receive (reference)', reference: true, run: () => measureUdpInbound(udp) },
      { direction: 'kernel -> JS', path: 'TUN read, reused buffers', reference: false, run: () => measureTunInbound(device, false) },
      { direction: 'kernel -> JS', path: 'TUN read, handler copies each', reference: false, run: () => measureTunInbound(device, true) },
    ];
    // Rounds interleave the cases so a burst of load on a shared machine hits them alike.
    const results = cases.map(() => [] as Measurement[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, entry] of cases.entries()) results[index].push(await entry.run());
    }
    const { packetsRead, readBatches } = device.counters;
    print(cases, results.map(medianOf), `${(packetsRead / Math.max(readBatches, 1)).toFixed(1)} packets per TUN read batch on average`);
  } finally {
    udp.close();
    await device.close();
    await sink.terminate();
  }
}

/** Calls `send` (worth `perCall` packets) as fast as the loop allows; the sink thread counts what arrives. */
function measureOutbound(sinkCount: Int32Array, send: () => void, perCall: number): Promise<Measurement> {
  let offered = 0;
  return measureWindow(
    () => Atomics.load(sinkCount, 0),
    () => offered,
    'offered',
    async (running) => {
      while (running()) {
        for (let i = 0; i < BATCH; i += perCall) send();
        offered += BATCH;
        await new Promise(setImmediate);
      }
    },
  );
}

async function measureUdpInbound(socket: dgram.Socket): Promise<Measurement> {
  let delivered = 0;
  const onMessage = () => delivered++;
  socket.on('message', onMessage);
  try {
    return await measureFromSource('127.0.0.1', JS_PORT, () => delivered);
  } finally {
    socket.off('message', onMessage);
  }
}

async function measureTunInbound(device: TunDevice, copy: boolean): Promise<Measurement> {
  let delivered = 0;
  device.onPackets((packets) => {
    for (const packet of packets) {
      const kept = copy ? Buffer.from(packet) : packet;
      if (kept.length === PACKET_BYTES) delivered++;
    }
  });
  try {
    return await measureFromSource(TUN_PEER, SINK_PORT, () => delivered);
  } finally {
    device.onPackets(() => {});
  }
}

/** A helper thread sends datagrams to address:port for the whole window while JavaScript receives. */
async function measureFromSource(address: string, port: number, delivered: () => number): Promise<Measurement> {
  const sourceCount = new Int32Array(new SharedArrayBuffer(4));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const counter = sourceCount.buffer as SharedArrayBuffer;
  const source = await startHelper({ role: 'source', address, port, counter, stop: stop.buffer as SharedArrayBuffer });
  try {
    return await measureWindow(delivered, () => Atomics.load(sourceCount, 0), 'delivered', async (running) => {
      while (running()) await sleep(50);
    });
  } finally {
    Atomics.store(stop, 0, 1);
    await source.terminate();
  }
}

/** Runs `drive` through a warm-up and a window, and rates what the counters gained inside the window. */
async function measureWindow(
  delivered: () => number,
  offered: () => number,
  handledByJs: 'offered' | 'delivered',
  drive: (running: () => boolean) => Promise<void>,
): Promise<Measurement> {
  let running = true;
  const driving = drive(() => running);
  await sleep(WARMUP_MS);
  const start = { at: process.hrtime.bigint(), cpu: jsThreadCpuSeconds(), delivered: delivered(), offered: offered() };
  await sleep(WINDOW_MS);
  const seconds = Number(process.hrtime.bigint() - start.at) / 1e9;
  const cpu = jsThreadCpuSeconds() - start.cpu;
  const deliveredCount = delivered() - start.delivered;
  const offeredCount = offered() - start.offered;
  running = false;
  await driving;
  // Let the sink drain before the next case starts counting.
  await sleep(100);
  return {
    offeredPerSecond: offeredCount / seconds,
    deliveredPerSecond: deliveredCount / seconds,
    jsMicrosPerPacket: (cpu * 1e6) / Math.max(handledByJs === 'offered' ? offeredCount : deliveredCount, 1),
  };
}

function jsThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // After the parenthesised command name come fields 3 onwards; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

function startHelper(task: HelperTask): Promise<Worker> {
  const worker = new Worker(__filename, { workerData: task });
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
  });
}

function runHelper(task: HelperTask): void {
  const counter = new Int32Array(task.counter);
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  if (task.role === 'sink') {
    socket.on('message', () => Atomics.add(counter, 0, 1));
    socket.bind(task.port, '0.0.0.0', () => {
      socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      parentPort?.postMessage('ready');
    });
    return;
  }
  const stop = new Int32Array(task.stop);
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x6d);
  socket.connect(task.port, task.address, async () => {
    parentPort?.postMessage('ready');
    while (Atomics.load(stop, 0) === 0) {
      for (let i = 0; i < BATCH; i++) socket.send(payload);
      Atomics.add(counter, 0, BATCH);
      await new Promise(setImmediate);
    }
    socket.close();
  });
}

function medianOf(runs: readonly Measurement[]): Measurement {
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return {
    offeredPerSecond: median(runs.map((run) => run.offeredPerSecond)),
    deliveredPerSecond: median(runs.map((run) => run.deliveredPerSecond)),
    jsMicrosPerPacket: median(runs.map((run) => run.jsMicrosPerPacket)),
  };
}

function print(cases: readonly Case[], results: readonly Measurement[], note: string): void {
  const gbits = (perSecond: number) => ((perSecond * PACKET_BYTES * 8) / 1e9).toFixed(2);
  const count = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');
  const header = ['direction', 'path', 'offered pkt/s', 'delivered pkt/s', 'Gbit/s', 'vs UDP', 'JS CPU us/pkt', 'vs UDP'];
  const lines = cases.map((entry, index) => {
    const reference = results[cases.findIndex((other) => other.direction === entry.direction && other.reference)];
    const result = results[index];
    return [
      entry.direction,
      entry.path,
      count(result.offeredPerSecond),
      count(result.deliveredPerSecond),
      gbits(result.deliveredPerSecond),
      `${(result.deliveredPerSecond / reference.deliveredPerSecond).toFixed(2)}x`,
      result.jsMicrosPerPacket.toFixed(2),
      `${(result.jsMicrosPerPacket / reference.jsMicrosPerPacket).toFixed(2)}x`,
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column].length)));
  const render = (cells: string[]) => cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  console.log(
    `TUN device vs UDP socket pair: ${PACKET_BYTES}-byte IPv4 packets, median of ${ROUNDS} interleaved ${WINDOW_MS / 1000} s windows, ` +
      `node ${process.version}, Linux ${os.release()}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`,
  );
  console.log(render(header));
  for (const line of lines) console.log(render(line));
  console.log(
    `${note}. A helper thread is the far end of each case: the UDP sink for JS -> kernel, the UDP source for kernel -> JS. ` +
      'JS CPU is the JavaScript thread alone, per packet it sent or read, so it holds under load where pkt/s do not.',
  );
}
