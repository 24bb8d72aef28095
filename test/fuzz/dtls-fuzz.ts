// `npm run fuzz:dtls`: the DTLS mutation fuzzer at full size (default 100,000 inputs) in a worker
// thread, with a watchdog that reports a hang when the worker stops making progress.
//   node dist/test/fuzz/dtls-fuzz.js [--iterations N] [--seed S] [--hang-seconds T]
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { configureLogging } from '../../src/log';
import { runDtlsFuzz, type FuzzReport } from './dtls-fuzzer';

interface WorkerInput {
  seed: number;
  iterations: number;
  progress: SharedArrayBuffer;
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} needs a non-negative integer, got "${process.argv[index + 1] ?? ''}"`);
    process.exit(2);
  }
  return value;
}

function fuzzInWorker(): void {
  const input = workerData as WorkerInput;
  const progress = new Int32Array(input.progress);
  configureLogging('error', 'json');
  const report = runDtlsFuzz({
    seed: input.seed,
    iterations: input.iterations,
    progressEvery: 100,
    onProgress: (iteration) => Atomics.store(progress, 0, iteration),
  });
  parentPort!.postMessage(report);
}

function printReport(report: FuzzReport, seconds: number): void {
  console.log(`DTLS fuzz: seed ${report.seed}, ${report.iterations.toLocaleString('en-US')} inputs in ${seconds.toFixed(1)} s`);
  for (const [target, count] of Object.entries(report.inputsPerTarget).sort()) {
    console.log(`  ${target.padEnd(66)} ${count.toLocaleString('en-US').padStart(8)}`);
  }
  console.log(`  records authenticated by the established layers: ${report.authenticatedRecords}`);
  for (const failure of report.failures) {
    console.log(`FAIL ${failure.target} at input ${failure.iteration}: ${failure.message}\n  input ${failure.inputHex}`);
  }
  console.log(report.failures.length === 0 ? 'clean: nothing threw, hung or broke an invariant' : `${report.failures.length} failures`);
}

function main(): void {
  const seed = option('seed', Date.now() % 2 ** 31);
  const iterations = option('iterations', 100_000);
  const hangSeconds = option('hang-seconds', 30);
  const progress = new SharedArrayBuffer(4);
  const started = Date.now();
  const worker = new Worker(__filename, { workerData: { seed, iterations, progress } satisfies WorkerInput });
  const seen = new Int32Array(progress);
  let last = -1;
  let lastChange = Date.now();
  const watchdog = setInterval(() => {
    const now = Atomics.load(seen, 0);
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > hangSeconds * 1000) {
      console.log(`HANG: no progress for ${hangSeconds} s after input ${now} (seed ${seed}); rerun with --seed ${seed} --iterations ${now + 100}`);
      clearInterval(watchdog);
      void worker.terminate();
      process.exitCode = 1;
    }
  }, 1000);
  worker.on('message', (report: FuzzReport) => {
    clearInterval(watchdog);
    printReport(report, (Date.now() - started) / 1000);
    process.exitCode = report.failures.length === 0 ? 0 : 1;
  });
  worker.on('error', (error) => {
    clearInterval(watchdog);
    console.log(`the fuzz worker crashed: ${error.stack ?? error.message} (seed ${seed})`);
    process.exitCode = 1;
  });
}

if (isMainThread) main();
else fuzzInWorker();
