// Running the system tools the lab is built from (ip, ss, sysctl, nft, ping, iperf3): a promise wrapper around
// execFile, and a check that installs missing Debian packages or says exactly what is missing.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class LabCommandError extends Error {
  constructor(
    readonly command: string[],
    readonly result: CommandResult,
  ) {
    super(`\`${command.join(' ')}\` exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim() || 'no output'}`);
  }
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion and resolves with its exit code and output; never rejects on a non-zero exit. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number' && !error.killed && error.signal == null) {
          reject(new Error(`cannot run ${command}: ${error.message}`));
          return;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 128) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and rejects with its stderr when it fails: for steps that must work. */
export async function mustRun(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) throw new LabCommandError([command, ...args], result);
  return result.stdout;
}

/** The synchronous form, for teardown from a signal or `exit` handler where nothing can be awaited. */
export function runCommandSync(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Each tool the lab calls and the Debian package that ships it. */
export const LAB_TOOLS: ReadonlyArray<{ tool: string; debianPackage: string }> = [
  { tool: 'ip', debianPackage: 'iproute2' },
  { tool: 'ss', debianPackage: 'iproute2' },
  { tool: 'sysctl', debianPackage: 'procps' },
  { tool: 'nft', debianPackage: 'nftables' },
  { tool: 'ping', debianPackage: 'iputils-ping' },
  { tool: 'iperf3', debianPackage: 'iperf3' },
];

// sbin folders are searched too because a `sudo` or CI PATH may leave them out while nft lives there.
const SEARCH_PATH = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

export function findExecutable(tool: string): string | null {
  for (const folder of SEARCH_PATH) {
    if (!folder) continue;
    const candidate = path.join(folder, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
}

export function missingTools(): Array<{ tool: string; debianPackage: string }> {
  return LAB_TOOLS.filter(({ tool }) => findExecutable(tool) === null);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The `skip` option of a test that needs root: false as root, otherwise the printed reason. */
export function skipUnlessRoot(why: string): false | string {
  return isRoot() ? false : `needs root: ${why}`;
}

/**
 * Makes sure every lab tool is present, installing the missing Debian packages with apt-get when
 * running as root (with one `apt-get update` retry for a stale package list). Rejects with the
 * exact packages and command to run when that is not possible.
 */
export async function ensureLabTools(report: (line: string) => void = () => {}): Promise<void> {
  let missing = missingTools();
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((entry) => entry.debianPackage))];
  const advice = `missing ${missing.map((entry) => `${entry.tool} (Debian package ${entry.debianPackage})`).join(', ')}; install with: apt-get install -y ${packages.join(' ')}`;
  const aptGet = findExecutable('apt-get');
  if (!isRoot() || aptGet === null) throw new Error(advice);
  report(`installing ${packages.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => {
    try {
      execFileSync(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'ignore', env, timeout: 300_000 });
      return true;
    } catch {
      return false;
    }
  };
  if (!install()) {
    try {
      execFileSync(aptGet, ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
    } catch {
      // the install below fails with the advice if the update did not help
    }
    install();
  }
  missing = missingTools();
  if (missing.length > 0) throw new Error(`apt-get could not install everything: ${advice}`);
}
