// `meshboi rolodex`: the composition root of the rendezvous server, on a real UDP socket, with
// every limit settable and a clean stop on SIGINT/SIGTERM.
import { Command, InvalidArgumentError } from 'commander';
import { logger } from '../src/log';
import { UdpTransport } from '../src/net/udp-transport';
import { formatEndpoint } from '../src/net/transport';
import { DEFAULT_OPTIONS, MIN_RELAY_BUDGET_BYTES, resolveOptions } from '../rolodex/options';
import { RolodexServer } from '../rolodex/server';
import { MetricsExporter, type MetricsAddress } from '../src/metrics/exporter';
import { acceptConfigFile } from './config-file';
import { metricsAddressOption } from './metrics-address';
import { waitForStopSignal } from './stop-signal';

interface RolodexCommandOptions {
  listenAddress: string;
  listenPort: number;
  maxNameBytes: number;
  maxNetworks: number;
  maxMembersPerNetwork: number;
  maxMembers: number;
  forgetAfter: number;
  mapInterval: number;
  sendBudget: number;
  sendBurst: number;
  summaryInterval: number;
  joinRate: number;
  joinBurst: number;
  networkRate: number;
  networkBurst: number;
  relay?: boolean;
  relayNetworkBudget: number;
  relayEndpointBudget: number;
  metricsAddress?: MetricsAddress;
}

function count(name: string, minimum: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < minimum) throw new InvalidArgumentError(`${name} must be a whole number of at least ${minimum}.`);
    return parsed;
  };
}

function seconds(name: string, allowZero: boolean): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0 || (!allowZero && parsed === 0)) {
      throw new InvalidArgumentError(`${name} must be a number of seconds${allowZero ? ' (0 turns it off)' : ' above 0'}.`);
    }
    return parsed;
  };
}

export function addRolodexCommand(program: Command): void {
  const command = program
    .command('rolodex')
    .description('run the rendezvous server that tells members of a network where the others are')
    .option('--listen-address <address>', 'address to listen on; "::" listens on IPv6 and IPv4', '0.0.0.0')
    .option('--listen-port <port>', 'UDP port to listen on (0 picks a free one)', count('--listen-port', 0), 6264)
    .option('--max-name-bytes <n>', 'longest network name accepted, in bytes', count('--max-name-bytes', 1), DEFAULT_OPTIONS.maxNameBytes)
    .option('--max-networks <n>', 'networks held at once', count('--max-networks', 1), DEFAULT_OPTIONS.maxNetworks)
    .option('--max-members-per-network <n>', 'members of one network', count('--max-members-per-network', 1), DEFAULT_OPTIONS.maxMembersPerNetwork)
    .option('--max-members <n>', 'members across all networks', count('--max-members', 1), DEFAULT_OPTIONS.maxMembers)
    .option('--forget-after <seconds>', 'forget a member this long after its last heartbeat', seconds('--forget-after', false), DEFAULT_OPTIONS.forgetAfterMs / 1000)
    .option('--map-interval <seconds>', 'send every member a map datagram this often', seconds('--map-interval', false), DEFAULT_OPTIONS.mapIntervalMs / 1000)
    .option('--send-budget <bytes>', 'bytes per second sent to one IPv4 address or IPv6 /64', count('--send-budget', 1), DEFAULT_OPTIONS.budgetBytesPerSecond)
    .option('--send-burst <bytes>', 'bytes one destination may receive in a burst', count('--send-burst', 1200), DEFAULT_OPTIONS.budgetBurstBytes)
    .option('--summary-interval <seconds>', 'log a one-line summary this often', seconds('--summary-interval', true), DEFAULT_OPTIONS.summaryIntervalMs / 1000)
    .option('--join-rate <n>', 'new members one IPv4 address or IPv6 /64 may register per second', count('--join-rate', 1), DEFAULT_OPTIONS.joinsPerSecond)
    .option('--join-burst <n>', 'new members one address may register at once', count('--join-burst', 1), DEFAULT_OPTIONS.joinBurst)
    .option('--network-rate <n>', 'new networks one address may create per second', count('--network-rate', 1), DEFAULT_OPTIONS.networksPerSecond)
    .option('--network-burst <n>', 'new networks one address may create at once', count('--network-burst', 1), DEFAULT_OPTIONS.networkBurst)
    .option('--relay', 'relay for members of a network that reach each other no other way (their end-to-end encrypted records, within the budgets below); off by default', false)
    .option('--relay-network-budget <bytes>', 'with --relay: bytes per second one network may send through us, and as much at once', count('--relay-network-budget', MIN_RELAY_BUDGET_BYTES), DEFAULT_OPTIONS.relayNetworkBytesPerSecond)
    .option('--relay-endpoint-budget <bytes>', 'with --relay: bytes per second one member may send through us, and as much at once', count('--relay-endpoint-budget', MIN_RELAY_BUDGET_BYTES), DEFAULT_OPTIONS.relayEndpointBytesPerSecond)
    .addOption(metricsAddressOption())
    .action(async (options: RolodexCommandOptions) => {
      await runRolodex(options);
    });
  acceptConfigFile(command);
}

async function runRolodex(options: RolodexCommandOptions): Promise<void> {
  const log = logger('rolodex');
  const settings = resolveOptions({
    maxNameBytes: options.maxNameBytes,
    maxNetworks: options.maxNetworks,
    maxMembersPerNetwork: options.maxMembersPerNetwork,
    maxMembers: options.maxMembers,
    forgetAfterMs: options.forgetAfter * 1000,
    mapIntervalMs: options.mapInterval * 1000,
    budgetBytesPerSecond: options.sendBudget,
    budgetBurstBytes: options.sendBurst,
    summaryIntervalMs: options.summaryInterval * 1000,
    joinsPerSecond: options.joinRate,
    joinBurst: options.joinBurst,
    networksPerSecond: options.networkRate,
    networkBurst: options.networkBurst,
    relay: options.relay === true,
    relayNetworkBytesPerSecond: options.relayNetworkBudget,
    relayEndpointBytesPerSecond: options.relayEndpointBudget,
  });
  // Signals are caught before the socket opens, so one that comes at any point stops us cleanly.
  const stopSignal = waitForStopSignal(log);
  try {
    let transport: UdpTransport;
    try {
      transport = await UdpTransport.open({ address: options.listenAddress, port: options.listenPort, bufferBytes: 4 * 1024 * 1024 });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot listen on ${options.listenAddress} port ${options.listenPort} (${reason}); pick another --listen-address or --listen-port`);
    }
    const server = new RolodexServer(transport, settings);
    let metrics: MetricsExporter | null = null;
    if (options.metricsAddress) {
      try {
        // Loaded on use: prom-client is a noticeable part of start-up time, and metrics are off by default.
        const { rolodexMetrics } = await import('../src/metrics/rolodex');
        metrics = await MetricsExporter.listen(options.metricsAddress, rolodexMetrics(() => server.stats()));
      } catch (error) {
        await transport.close();
        throw error;
      }
    }
    if (stopSignal.received) {
      await Promise.all([transport.close(), metrics?.close()]);
      return;
    }
    server.start();
    const bound = transport.localEndpoint();
    log.info('listening', { address: formatEndpoint(bound), port: bound.port, ...settings, ...(metrics ? { metrics: metrics.url } : {}) });
    const signal = await stopSignal.promise;
    log.info('stopping', { signal, ...server.stats() });
    await Promise.all([server.stop(), metrics?.close()]);
  } finally {
    stopSignal.dispose();
  }
}
