// Running the lab's UDP probe (udp-probe.ts) on a host and reading its one-line JSON answer.
import path from 'node:path';
import type { LabHost } from './host';
import type { LabProcess } from './process';

const PROBE = path.join(__dirname, 'udp-probe.js');

/** Runs one probe mode to completion on `host` and returns what it printed. */
export async function runProbe<T>(host: LabHost, args: string[], timeoutMs = 60_000): Promise<T> {
  const result = await host.exec(process.execPath, [PROBE, ...args], { timeoutMs });
  if (result.code !== 0) throw new Error(`udp-probe ${args.join(' ')} on ${host.name} failed (${result.code}): ${result.stderr.trim()}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as T;
}

/** Starts an echo server on `host` that answers each datagram with the source address it saw; resolves once it listens. */
export async function startEcho(host: LabHost, port: number): Promise<LabProcess> {
  const echo = host.spawn(process.execPath, [PROBE, 'echo', '--port', String(port)], { logName: `${host.name}-echo-${port}.log` });
  const deadline = Date.now() + 10_000;
  while (!echo.output().includes('listening')) {
    if (!echo.running || Date.now() > deadline) throw new Error(`echo on ${host.name}:${port} did not start: ${echo.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return echo;
}

export interface AskAnswer {
  localPort: number;
  replies: Array<{ target: string; observed: string | null }>;
}
