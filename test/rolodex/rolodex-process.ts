// Runs the real `meshboi rolodex` process with JSON logs, for black-box tests and the benchmark:
// waits for its "listening" line to learn the port the kernel picked, and stops it by signal.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const MESHBOI_CLI = path.resolve(__dirname, '../../cmd/meshboi.js');

export interface RolodexProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Every JSON log line so far, in order. */
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Signals the process (SIGTERM by default) and waits for it to exit; kills it after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The environment for a child `meshboi`: ours minus NODE_TEST_CONTEXT, which would make the
 * child run as a test-runner child (with the runner's own signal handling) instead of as itself.
 */
export function childEnvironment(): NodeJS.ProcessEnv {
  const environment = { ...process.env };
  delete environment.NODE_TEST_CONTEXT;
  return environment;
}

/** Starts `meshboi rolodex` on 127.0.0.1 and a free port, with `args` added. */
export function startRolodexProcess(args: string[], listenAddress = '127.0.0.1'): Promise<RolodexProcess> {
  const child = spawn(
    process.execPath,
    [MESHBOI_CLI, '--log-format', 'json', 'rolodex', '--listen-address', listenAddress, '--listen-port', '0', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: childEnvironment() },
  );
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the rolodex did not report listening within 10 s; stderr: ${stderr}`));
    }, 10_000);
    let pending = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 10_000) stderr += chunk;
      pending += chunk;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(parsed);
        if (parsed.message === 'listening') {
          clearTimeout(timeout);
          resolve({ child, port: Number(parsed.port), lines, exited, stop });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timeout);
      reject(new Error(`the rolodex exited with ${String(code)} before listening; stderr: ${stderr}`));
    });
  });

  async function stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  }
}
