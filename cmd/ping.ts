// `meshboi ping VPN_IP`: probes a peer through its DTLS session, by way of the member's control
// socket, and prints one line per probe with the round trip and the path, as `tailscale ping` does.
import { Command, InvalidArgumentError } from 'commander';
import { ControlClientError, requestPing } from '../src/control/client';
import { defaultControlSocketPath } from '../src/control/protocol';
import type { ProbeErrorCode, ProbeResult, ProbeRoute } from '../src/member/probes';
import { CliError } from './cli-error';

interface PingOptions {
  count: number;
  tunName: string;
  controlSocket?: string;
}

/** Between the starts of two probes, as ping(8). */
const INTERVAL_MS = 1_000;
/** Above the member's probe timeout (2 s), so the member says why a probe failed, not the socket. */
const REQUEST_TIMEOUT_MS = 5_000;

/** Refusals a later probe may not meet (a lost datagram, a session coming up); any other ends the run. */
const PASSING: ReadonlySet<string | undefined> = new Set<ProbeErrorCode>(['timeout', 'not_established', 'busy']);

function positive(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError('give a whole number of at least 1.');
  return Number(text);
}

export function addPingCommand(program: Command): void {
  program
    .command('ping')
    .description("probe a peer through its DTLS session (meshboi members only): round trip time and path")
    .argument('<vpn-ip>', "the peer's VPN IP")
    .option('--count <n>', 'probes to send, one a second', positive, 4)
    .option('--tun-name <name>', 'the member to ask, by its TUN device name', 'tun')
    .option('--control-socket <path>', "the member's control socket (default /run/meshboi/<tun-name>.sock)")
    .action(async (vpnIp: string, options: PingOptions) => {
      const socketPath = options.controlSocket ?? defaultControlSocketPath(options.tunName);
      const replies = await runPings(vpnIp, options.count, (line) => process.stdout.write(`${line}\n`), (ip) => requestPing(socketPath, ip, REQUEST_TIMEOUT_MS));
      if (replies === 0) process.exitCode = 1;
    });
}

/** Sends `count` probes a second apart, printing each outcome and a summary; returns the replies. */
export async function runPings(
  vpnIp: string,
  count: number,
  print: (line: string) => void,
  ping: (vpnIp: string) => Promise<ProbeResult>,
  intervalMs = INTERVAL_MS,
): Promise<number> {
  const rtts: number[] = [];
  for (let sent = 1; sent <= count; sent++) {
    const startedAt = Date.now();
    try {
      const result = await ping(vpnIp);
      rtts.push(result.rttMs);
      print(formatPong(result));
    } catch (error) {
      if (!(error instanceof ControlClientError)) throw error;
      if (!error.refusal) throw error;
      if (!PASSING.has(error.refusal.code)) throw new CliError(error.refusal.error);
      print(error.refusal.error);
    }
    if (sent < count) await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - startedAt))));
  }
  print(formatSummary(vpnIp, count, rtts));
  return rtts.length;
}

/** "pong from 192.168.50.2 via 203.0.113.7:41641 (direct) in 1.24 ms". */
export function formatPong(result: ProbeResult): string {
  return `pong from ${result.vpnIp} via ${formatRoute(result.route)} in ${formatMs(result.rttMs)}`;
}

function formatRoute(route: ProbeRoute): string {
  switch (route.kind) {
    case 'direct':
      return `${route.endpoint} (direct)`;
  }
}

/** "4 probes, 3 replies, round trip min/avg/max 0.81/1.02/1.40 ms". */
export function formatSummary(vpnIp: string, sent: number, rtts: readonly number[]): string {
  const head = `--- ${vpnIp}: ${sent} probe${sent === 1 ? '' : 's'}, ${rtts.length} repl${rtts.length === 1 ? 'y' : 'ies'}`;
  if (rtts.length === 0) return head;
  const min = Math.min(...rtts);
  const max = Math.max(...rtts);
  const avg = rtts.reduce((sum, rtt) => sum + rtt, 0) / rtts.length;
  return `${head}, round trip min/avg/max ${[min, avg, max].map((ms) => ms.toFixed(2)).join('/')} ms`;
}

function formatMs(ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}
