// `npm run lab:cleanup`: removes what crashed lab runs left behind (namespaces with their processes,
// interfaces and nftables rules, and run folders), recognised by prefix; a run whose owner is still alive is left alone.
import { readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { killNamespaceProcesses } from './lab';
import { DEFAULT_PREFIX, parseRunName } from './names';
import { findExecutable, isRoot, mustRun, runCommand } from './tools';

export interface CleanupOptions {
  prefix?: string;
  /** Also remove runs whose owner process is still alive. */
  force?: boolean;
  report?: (line: string) => void;
}

export interface CleanupResult {
  removedNamespaces: string[];
  removedFolders: string[];
  /** Namespaces of runs whose owner is alive, left in place. */
  keptNamespaces: string[];
}

function ownerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function cleanupLeftovers(options: CleanupOptions = {}): Promise<CleanupResult> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const report = options.report ?? (() => {});
  const ip = findExecutable('ip') ?? 'ip';
  const result: CleanupResult = { removedNamespaces: [], removedFolders: [], keptNamespaces: [] };
  const isLeftover = (name: string): boolean | null => {
    const parsed = parseRunName(name, prefix);
    if (!parsed) return null;
    return options.force === true || !ownerAlive(parsed.ownerPid);
  };

  const listing = await mustRun(ip, ['netns', 'list']);
  for (const line of listing.split('\n')) {
    const name = line.split(' ')[0];
    const leftover = name ? isLeftover(name) : null;
    if (leftover === null) continue;
    if (!leftover) {
      result.keptNamespaces.push(name);
      continue;
    }
    await killNamespaceProcesses(ip, name);
    const deleted = await runCommand(ip, ['netns', 'del', name]);
    if (deleted.code !== 0) throw new Error(`could not delete namespace ${name}: ${deleted.stderr.trim()}`);
    report(`removed namespace ${name}`);
    result.removedNamespaces.push(name);
  }
  for (const entry of readdirSync(os.tmpdir())) {
    if (isLeftover(entry) !== true) continue;
    rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
    report(`removed folder ${path.join(os.tmpdir(), entry)}`);
    result.removedFolders.push(entry);
  }
  if (result.keptNamespaces.length > 0) {
    report(`kept ${result.keptNamespaces.length} namespace(s) of runs still alive (--force removes them too)`);
  }
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { prefix: { type: 'string', default: DEFAULT_PREFIX }, force: { type: 'boolean', default: false } } });
  if (!isRoot()) throw new Error('cleanup needs root to delete network namespaces: run it as root');
  const result = await cleanupLeftovers({ prefix: values.prefix, force: values.force, report: (line) => process.stdout.write(`${line}\n`) });
  if (result.removedNamespaces.length + result.removedFolders.length === 0) process.stdout.write(`nothing to clean up for prefix ${values.prefix}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`lab:cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
