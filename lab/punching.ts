// Hole punching between two lab hosts with udp-probe's `punch`: both register with a rendezvous
// echo, learn each other's outside endpoint from the lab (out of band, as members do from a
// rolodex map) and start one technique at the same moment, or one side `skewMs` later.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LabHost } from './host';
import type { LabProcess } from './process';
import type { PunchOptions, PunchPlan } from './udp-probe';

const PROBE = path.join(__dirname, 'udp-probe.js');
// Time for both plan files to be read before the common start.
const START_MARGIN_MS = 500;

export interface PunchResult {
  connected: boolean;
  /** From this side's start until it knew both sides heard each other. */
  connectedMs: number | null;
  /** The peer's source address:port of the first datagram heard, or null. */
  heardFrom: string | null;
  sent: number;
  lowTtlSent: number;
  rounds: number;
}

export interface PunchPairResult {
  connected: boolean;
  /** From the first side's start until both sides know they are connected. */
  connectedMs: number | null;
  sides: [PunchResult, PunchResult];
}

export interface PunchRun {
  /** Echo server both sides register with, "a.b.c.d:port". */
  rendezvous: string;
  /** Local port both sides bind; use a fresh one per run so runs share no conntrack entries. */
  port: number;
  /** How much later the second side starts. */
  skewMs: number;
  technique: PunchOptions;
}

export async function punchPair(first: LabHost, second: LabHost, run: PunchRun): Promise<PunchPairResult> {
  const sides = [first, second].map((host) => {
    const planFile = path.join(host.runFolder, `punch-${host.name}-${run.port}.json`);
    const args = [PROBE, 'punch', '--port', String(run.port), '--rendezvous', run.rendezvous, '--plan-file', planFile, ...techniqueArgs(run.technique)];
    return { host, planFile, probe: host.spawn(process.execPath, args, { logName: `${host.name}-punch-${run.port}.log` }) };
  });
  const registered = await Promise.all(sides.map((side) => registeredEndpoint(side.probe)));
  const startAt = Date.now() + START_MARGIN_MS;
  sides.forEach((side, index) => {
    const plan: PunchPlan = { peer: registered[1 - index], startAt: startAt + (index === 1 ? run.skewMs : 0) };
    writeFileSync(`${side.planFile}.tmp`, JSON.stringify(plan));
    renameSync(`${side.planFile}.tmp`, side.planFile);
  });
  const results = await Promise.all(sides.map((side) => finalResult(side.probe)));
  const connected = results.every((result) => result.connected);
  const secondDone = (results[1].connectedMs ?? 0) + run.skewMs;
  return { connected, connectedMs: connected ? Math.max(results[0].connectedMs ?? 0, secondDone) : null, sides: [results[0], results[1]] };
}

function techniqueArgs(technique: PunchOptions): string[] {
  return [
    ['--first-ttl', technique.firstTtl],
    ['--wait-ms', technique.waitMs],
    ['--interval-ms', technique.intervalMs],
    ['--quiet-after-ms', technique.quietAfterMs],
    ['--quiet-ms', technique.quietMs],
    ['--give-up-ms', technique.giveUpMs],
  ].flatMap(([flag, value]) => [String(flag), String(value)]);
}

async function registeredEndpoint(probe: LabProcess): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /\{"registered":"([^"]+)"\}/.exec(probe.output());
    if (match) return match[1];
    if (!probe.running || Date.now() > deadline) throw new Error(`${probe.label} did not register: ${probe.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function finalResult(probe: LabProcess): Promise<PunchResult> {
  const exit = await probe.exited;
  const last = probe.output().trim().split('\n').pop() ?? '';
  if (exit.code !== 0 || !last.includes('"connected"')) throw new Error(`${probe.label} failed (${exit.code ?? exit.signal}): ${probe.output()}`);
  return JSON.parse(last) as PunchResult;
}
