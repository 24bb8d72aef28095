// Names of a lab run: every namespace and temporary folder carries the run id, which holds the
// owner's pid, so cleanup can tell leftovers of a dead run from a lab that is still running.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_PREFIX = 'mblab';
// Host names start with a letter, so this can never collide with one.
export const INTERNET_HOST = '0internet';

const PREFIX = /^[a-z][a-z0-9]{0,7}$/;

export function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) throw new Error(`lab prefix "${prefix}" is not usable: use 1 to 8 lowercase letters or digits, starting with a letter`);
  return prefix;
}

/** `<prefix>-<owner pid in base 36>-<4 hex digits>`, unique per run. */
export function newRunId(prefix: string = DEFAULT_PREFIX): string {
  return `${checkPrefix(prefix)}-${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`;
}

export function namespaceName(runId: string, host: string): string {
  return `${runId}-${host}`;
}

export function runFolder(runId: string): string {
  return path.join(os.tmpdir(), runId);
}

export interface ParsedRunName {
  runId: string;
  ownerPid: number;
}

/** Reads the run id and owner pid back from a namespace or folder name made with `prefix`; null when it is not one. */
export function parseRunName(name: string, prefix: string): ParsedRunName | null {
  const match = new RegExp(`^(${checkPrefix(prefix)}-([0-9a-z]+)-[0-9a-f]{4})(?:-|$)`).exec(name);
  if (!match) return null;
  return { runId: match[1], ownerPid: parseInt(match[2], 36) };
}
