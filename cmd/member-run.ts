// The `meshboi member` process: checks the command line, opens the TUN device, the UDP socket, the
// control socket and the metrics endpoint, starts the member, drops root, and on SIGINT/SIGTERM
// takes it all down.
import { defaultControlSocketPath } from '../src/control/protocol';
import { ControlServer } from '../src/control/server';
import { logger } from '../src/log';
import { MetricsExporter, type MetricsAddress } from '../src/metrics/exporter';
import { UdpTransport } from '../src/net/udp-transport';
import { openTun, TunError, type TunDevice, type TunErrorCode } from '../src/tun/linux';
import { CliError } from './cli-error';
import os from 'node:os';
import { bindAddressFor, computeLocalEndpoints, inAnyVpn, parseRolodexAddress, parseVpnIps, resolveRolodexes } from './member-config';
import { openNameSockets, registerWithResolver, resolverDomains } from './member-names';
import { checkForwarding, KernelPeerMtus, KernelRoutes } from './member-routes';
import { nameFromHostname, zoneOf } from '../src/member/names';
import type { LinkMode } from '../src/member/peer-info';
import { startMember, type Member } from '../src/member/main';
import { checkStartupPrivileges, dropPrivileges, lookupIdentity } from './privileges';
import { PSK_ENV_VARIABLE, resolvePsk } from './psk';
import { waitForStopSignal } from './stop-signal';

const log = logger('member');

const DEFAULT_TUN_MTU = 1200;
const IPV6_MIN_MTU = 1280;

/** How long close_notify and closing the device may take before we exit anyway. */
const STOP_TIMEOUT_MS = 5_000;

export interface MemberCliOptions {
  network: string;
  /** One address, or one IPv4 and one IPv6 for a dual-stack member. */
  vpnIp: string[];
  /** Omitted: from the host name. */
  name?: string;
  advertiseRoute?: string[];
  acceptRoutes?: boolean;
  mode: LinkMode;
  psk?: string;
  pskFile?: string;
  rolodexAddress?: string[];
  rolodexPort: number;
  /** --blind: see MemberConfig.blind. */
  blind?: boolean;
  tunName: string;
  /** Omitted: the original's 1200, or 1280 (the IPv6 minimum) when the VPN address is IPv6. */
  tunMtu?: number;
  listenPort: number;
  controlSocket?: string;
  user?: string;
  group?: string;
  /** Forward for the other members of the network (docs/relays.md). */
  relay?: boolean;
  /** False with --no-relays: never reach a peer through a relay. */
  relays: boolean;
  /** False with --no-mtu-probe: every peer keeps the device MTU (path-mtu.ts). */
  mtuProbe: boolean;
  metricsAddress?: MetricsAddress;
}

/** Runs a member until SIGINT or SIGTERM; rejects with an actionable message if it cannot start. */
export async function runMember(options: MemberCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const stopSignal = waitForStopSignal(log);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const { psk, warnings } = resolvePsk({ pskFile: options.pskFile, env: env[PSK_ENV_VARIABLE], arg: options.psk });
    for (const warning of warnings) log.warn(warning);
    const vpns = parseVpnIps(options.vpnIp);
    const vpn = vpns[0];
    // A TAP segment carries IPv6 neighbour discovery whatever our addresses, and Linux turns IPv6 off below 1280.
    const mtu = options.tunMtu ?? (options.mode === 'tap' || vpns.some((address) => address.family === 6) ? IPV6_MIN_MTU : DEFAULT_TUN_MTU);
    const name = options.name ?? nameFromHostname(os.hostname());
    if (options.name === undefined && name === null) log.warn('the host name makes no DNS name; give one with --name', { hostname: os.hostname() });
    const rolodexes = await resolveRolodexes((options.rolodexAddress ?? []).map((text) => parseRolodexAddress(text, options.rolodexPort)));
    const identity = lookupIdentity(options.user, options.group);
    checkStartupPrivileges({ tunName: options.tunName, dropsPrivileges: identity !== null });
    if (options.acceptRoutes && identity) {
      throw new CliError('--accept-routes installs routes as members advertise them, which needs root: leave out --user, or the routes');
    }
    if (options.advertiseRoute?.length) checkForwarding(options.advertiseRoute, log);

    let member: Member | null = null;
    const running = (): Member => {
      if (!member) throw new Error('the member is still starting; ask again in a moment');
      return member;
    };
    const control = await ControlServer.listen(options.controlSocket ?? defaultControlSocketPath(options.tunName), {
      status: () => running().status(),
      ping: async (vpnIp) => running().ping(vpnIp),
    });
    cleanups.push(() => control.close());

    if (options.metricsAddress) {
      // Loaded on use: prom-client is a noticeable part of start-up time, and metrics are off by default.
      const { memberMetrics } = await import('../src/metrics/member');
      const metrics = await MetricsExporter.listen(options.metricsAddress, memberMetrics(() => running().status()));
      cleanups.push(() => metrics.close());
      log.info('serving metrics', { url: metrics.url });
    }

    const device = await openTunWithAdvice(options.tunName, mtu, vpns.map((address) => address.cidr), options.mode);
    cleanups.push(() => device.close());

    const zone = zoneOf(options.network);
    if (typeof zone === 'string') log.warn(zone);
    const dns = typeof zone === 'string' ? [] : await openNameSockets(vpns, log);
    for (const socket of dns) cleanups.push(() => socket.close());
    if (typeof zone !== 'string' && dns.length > 0) {
      const servers = dns.map((socket) => socket.localEndpoint().address);
      await registerWithResolver(device.name, servers, resolverDomains(zone.join('.'), vpns), log);
    }

    const bindAddress = bindAddressFor(rolodexes);
    const transport = await openUdpWithAdvice(bindAddress, options.listenPort);
    cleanups.push(() => transport.close());

    const port = transport.localEndpoint().port;
    const localEndpoints = computeLocalEndpoints(port, { family: bindAddress === '::' ? 6 : 4, vpn: inAnyVpn(vpns) });
    const second = vpns[1];
    const started = await startMember(
      {
        network: options.network,
        psk,
        vpnIp: vpn.text,
        vpnPrefixLength: vpn.prefixLength,
        secondVpn: second ? { ip: second.text, prefixLength: second.prefixLength } : undefined,
        name,
        advertiseRoutes: options.advertiseRoute,
        acceptRoutes: options.acceptRoutes,
        mode: options.mode,
        rolodexes,
        localEndpoints,
        blind: options.blind === true,
        relay: options.relay ?? false,
        useRelays: options.relays,
      },
      { transport, device, dns, routes: options.acceptRoutes ? new KernelRoutes(device.name, log) : undefined, peerMtus: peerMtusFor(options, identity !== null, device.name) },
    );
    member = started;
    cleanups.push(() => started.stop());

    if (identity) {
      control.handOver(identity.uid, identity.gid);
      dropPrivileges(identity);
      log.info('dropped root', { user: identity.user, uid: identity.uid, group: identity.group, gid: identity.gid });
    }
    log.info('ready', { tun: device.name, port, control: control.path });
    const signal = await stopSignal.promise;
    log.info('stopping', { signal });
  } finally {
    stopSignal.dispose();
    await runCleanups(cleanups);
  }
}

/** Routes with probed MTUs, unless turned off; a member that drops root could not change them later. */
function peerMtusFor(options: MemberCliOptions, dropsRoot: boolean, device: string): KernelPeerMtus | undefined {
  if (!options.mtuProbe) return undefined;
  if (dropsRoot) {
    log.info('path MTU probing is off with --user: its routes need root; every peer keeps the TUN MTU');
    return undefined;
  }
  return new KernelPeerMtus(device, log);
}

/** Undoes start-up in reverse: member (close_notify), UDP socket, TUN device, control socket. */
async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS, 'timeout').unref());
  for (const cleanup of cleanups.reverse()) {
    try {
      const outcome = await Promise.race([cleanup(), timeout]);
      if (outcome === 'timeout') {
        log.warn(`shutting down took longer than ${STOP_TIMEOUT_MS} ms; exiting anyway`);
        return;
      }
    } catch (error) {
      log.warn('error while shutting down', { error: (error as Error).message });
    }
  }
}

/** Which of our options to look at when the TUN device refuses, beside the addon's own advice. */
const TUN_OPTION: Partial<Record<TunErrorCode, string>> = {
  NAME_IN_USE: '--tun-name',
  BAD_NAME: '--tun-name',
  BAD_MTU: '--tun-mtu',
  BAD_ADDRESS: '--vpn-ip',
};

async function openTunWithAdvice(name: string, mtu: number, cidrs: string[], mode: LinkMode): Promise<TunDevice> {
  try {
    return await openTun({ name, mtu, addresses: cidrs, mode });
  } catch (error) {
    if (!(error instanceof TunError)) throw error;
    const option = TUN_OPTION[error.code];
    throw new CliError(`cannot open TUN device ${name}${option ? ` (check ${option})` : ''}: ${error.message}`);
  }
}

async function openUdpWithAdvice(address: string, port: number): Promise<UdpTransport> {
  try {
    return await UdpTransport.open({ address, port, bufferBytes: 4 * 1024 * 1024 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`UDP port ${port} is already in use; pick another --listen-port (0 picks a free one)`);
    throw new CliError(`cannot open the UDP socket on ${address} port ${port}: ${(error as Error).message}`);
  }
}
