// Reads the V8 CPU profiles (`node --cpu-prof`) the members wrote during a benchmark run and
// ranks where their CPU went: self time per function and per source file, idle time left out.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  samples: number[];
  timeDeltas: number[];
}

export interface CostRow {
  name: string;
  selfMs: number;
  /** Share of the process's busy (non-idle) time, in percent. */
  percent: number;
}

export interface ProfileSummary {
  label: string;
  file: string;
  busyMs: number;
  idleMs: number;
  functions: CostRow[];
  files: CostRow[];
}

/** Shortens a script URL to the part worth reading: our own path from dist/, or Node's module name. */
function shortFile(url: string): string {
  if (url === '') return '(native)';
  const ours = /\/dist\/(.*)$/.exec(url);
  if (ours) return ours[1] as string;
  const nodeModule = /node_modules\/(.*)$/.exec(url);
  return nodeModule ? (nodeModule[1] as string) : url.replace(/^file:\/\//, '');
}

function rank(costs: Map<string, number>, busyMs: number, top: number): CostRow[] {
  return [...costs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, selfMs]) => ({ name, selfMs: Math.round(selfMs), percent: Math.round((selfMs / busyMs) * 1000) / 10 }));
}

export function summariseProfile(label: string, file: string, profile: CpuProfile, top = 15): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  profile.samples.forEach((nodeId, index) => {
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    const frame = frames.get(nodeId);
    if (!frame || frame.functionName === '(idle)') {
      idleMs += ms;
      return;
    }
    busyMs += ms;
    const where = shortFile(frame.url);
    const name = frame.url ? `${frame.functionName || '(anonymous)'} (${where}:${frame.lineNumber + 1})` : frame.functionName;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byFile.set(where, (byFile.get(where) ?? 0) + ms);
  });
  return { label, file, busyMs: Math.round(busyMs), idleMs: Math.round(idleMs), functions: rank(byFunction, busyMs, top), files: rank(byFile, busyMs, top) };
}

/** The profile file `node --cpu-prof` wrote for a pid (its name carries the pid), if any. */
export async function findProfile(directory: string, pid: number): Promise<string | null> {
  const entries = await readdir(directory).catch(() => [] as string[]);
  const match = entries.find((entry) => entry.endsWith('.cpuprofile') && entry.split('.').includes(String(pid)));
  return match ? path.join(directory, match) : null;
}

export async function loadProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

export function renderProfiles(summaries: readonly ProfileSummary[]): string {
  const table = (title: string, rows: readonly CostRow[]): string[] => [
    `| ${title} | self ms | % of busy |`,
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.name.replace(/\|/g, '\\|')} | ${row.selfMs} | ${row.percent} |`),
  ];
  return summaries
    .flatMap((summary) => [
      `### ${summary.label}`,
      '',
      `${summary.busyMs} ms busy, ${summary.idleMs} ms idle (${path.basename(summary.file)}).`,
      '',
      ...table('function (self time)', summary.functions),
      '',
      ...table('file (self time)', summary.files),
      '',
    ])
    .join('\n');
}
