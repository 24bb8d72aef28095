// The contract every benchmarked tunnel implements (bare link, wireguard-go, nebula, meshboi),
// and the waits they share: the tunnel is up once host A can ping host B through it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LabHost } from '../lab/host';
import type { LabProcess } from '../lab/process';

export type HostPair = readonly [client: LabHost, server: LabHost];

export interface Tunnel {
  /** Host B's address inside the tunnel: what iperf3 and ping on host A target. */
  readonly serverAddress: string;
  /** The interface host A reaches host B through: the tunnel's device, or the link's. */
  readonly device: string;
  /** MTU of that interface. */
  readonly mtu: number;
  /** The tunnel's own processes; their CPU counts toward the tool's figure. */
  readonly daemons: readonly LabProcess[];
  /** What the tool printed as its version, for the results file. */
  readonly version: string;
  /** The tool's own account of its state (counters, drops), quoted when a measurement fails. */
  diagnose?(): Promise<string>;
}

export interface TunnelTool {
  readonly name: string;
  /** Executables the tool needs and the Debian packages that ship them; missing ones get installed. */
  readonly needs: ReadonlyArray<{ tool: string; debianPackage: string }>;
  /** Brings the tunnel up between the pair; `workDir` is private to this run. Processes it starts
   * with `host.spawn` are stopped by the lab's teardown even when this fails halfway. `third` is
   * a public host beside the pair, for a tool that needs one (a relay). */
  up(pair: HostPair, workDir: string, third: LabHost): Promise<Tunnel>;
}

/** The last few non-empty lines of a process's output, to quote in an error. */
export function lastLines(output: string, count = 3): string {
  return output.trim().split('\n').filter((line) => line.trim() !== '').slice(-count).join(' | ');
}

/** Throws with the process's last output if it has exited: a daemon that died will not come up. */
export function assertRunning(daemon: LabProcess): void {
  if (!daemon.running) throw new Error(`${daemon.label} exited: ${lastLines(daemon.output()) || 'no output'}`);
}

/**
 * Pings `address` out of `device` from `host` until it answers, failing early if a daemon exits.
 * Pinned to the device because every lab host has a default route: without it, a ping could leave
 * by the link and be answered by the peer's kernel, which holds the tunnel address too.
 */
export async function waitForPath(host: LabHost, address: string, device: string, daemons: readonly LabProcess[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    daemons.forEach(assertRunning);
    const result = await host.exec('ping', ['-n', '-c', '1', '-W', '1', '-I', device, address], { timeoutMs: 5000 });
    if (result.code === 0) return;
    lastError = lastLines(result.stdout + result.stderr, 1);
    await sleep(200);
  }
  const hints = daemons.map((daemon) => `${daemon.label}: ${lastLines(daemon.output()) || 'no output'}`).join('; ');
  throw new Error(`no path to ${address} from ${host.name} after ${timeoutMs / 1000} s (${lastError})${hints ? `; ${hints}` : ''}`);
}

/** Runs a command until it succeeds; for daemons that create their device or socket a little late. */
export async function waitForCommand(host: LabHost, argv: readonly string[], daemon: LabProcess, timeoutMs = 10_000): Promise<string> {
  const [command, ...args] = argv as [string, ...string[]];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    assertRunning(daemon);
    const result = await host.exec(command, args, { timeoutMs: 5000 });
    if (result.code === 0) return result.stdout;
    if (Date.now() >= deadline) throw new Error(`${argv.join(' ')} on ${host.name} kept failing: ${lastLines(result.stderr + result.stdout)}`);
    await sleep(100);
  }
}

/** The first line a tool prints about its version, for the results file. */
export async function versionOf(host: LabHost, command: string, args: string[]): Promise<string> {
  const result = await host.exec(command, args, { timeoutMs: 5000 });
  const text = (result.stdout + result.stderr).trim().split('\n')[0] ?? '';
  return result.code === 0 ? text : `unknown (${command} exited ${result.code}: ${text})`;
}

/** Reads an interface's MTU inside a host. */
export async function interfaceMtu(host: LabHost, device: string): Promise<number> {
  const output = await host.mustExec('ip', ['-o', 'link', 'show', 'dev', device]);
  const match = /\bmtu (\d+)/.exec(output);
  if (!match) throw new Error(`no MTU in "ip link show dev ${device}" on ${host.name}: ${output.trim()}`);
  return Number.parseInt(match[1] as string, 10);
}

/** The MTU of packets from a host to `address` through `device`: its route's, where one sets it above the device's, else the device's. */
export async function routeMtu(host: LabHost, address: string, device: string): Promise<number> {
  const match = /\bmtu (\d+)/.exec(await host.mustExec('ip', ['-o', 'route', 'get', address]));
  return match ? Number.parseInt(match[1] as string, 10) : interfaceMtu(host, device);
}

/** The interface a host would use to reach `address`. */
export async function routeDevice(host: LabHost, address: string): Promise<string> {
  const output = await host.mustExec('ip', ['-o', 'route', 'get', address]);
  const match = /\bdev (\S+)/.exec(output);
  if (!match) throw new Error(`no route to ${address} on ${host.name}: ${output.trim()}`);
  return match[1] as string;
}

/** Throws unless the tunnel's daemons still run, the route to its far end uses its device, and a
 * ping still crosses it: a measurement taken otherwise measured the bare link or a dead tunnel. */
export async function assertTunnelIntact(host: LabHost, tunnel: Tunnel): Promise<void> {
  tunnel.daemons.forEach(assertRunning);
  const device = await routeDevice(host, tunnel.serverAddress);
  if (device !== tunnel.device) throw new Error(`${tunnel.serverAddress} is routed via ${device}, not the tunnel's ${tunnel.device}`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await host.exec('ping', ['-n', '-c', '1', '-W', '1', '-I', tunnel.device, tunnel.serverAddress], { timeoutMs: 5000 });
    if (result.code === 0) return;
  }
  throw new Error(`the tunnel stopped carrying packets: 3 pings to ${tunnel.serverAddress} through ${tunnel.device} went unanswered`);
}
