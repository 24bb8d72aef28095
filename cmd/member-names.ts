// The process side of member names: UDP sockets on port 53 of our VPN addresses, and telling the
// host's resolver about them (systemd-resolved per-link DNS and routing domains, else a hint).
import { execFile } from 'node:child_process';
import type { Logger } from '../src/log';
import { UdpTransport } from '../src/net/udp-transport';
import { reverseZone } from '../src/dns/responder';
import { vpnAddressBytes } from '../src/member/vpn-address';
import type { VpnInterface } from './member-config';

export const DNS_PORT = 53;

/**
 * One socket per VPN address; one that cannot bind (another server holds port 53 on every
 * address, say) is left out with a warning, since names are a convenience and the VPN works without.
 */
export async function openNameSockets(vpns: readonly VpnInterface[], log: Logger): Promise<UdpTransport[]> {
  const sockets: UdpTransport[] = [];
  for (const vpn of vpns) {
    try {
      sockets.push(await UdpTransport.open({ address: vpn.text, port: DNS_PORT, batchSends: false, ipv6Only: vpn.family === 6 }));
    } catch (error) {
      log.warn('cannot answer DNS on this VPN address; names will not resolve through it', {
        address: `${vpn.text}:${DNS_PORT}`,
        error: (error as Error).message,
        fix: 'stop whatever holds UDP port 53 on all addresses (bind it to specific ones), or query another member',
      });
    }
  }
  return sockets;
}

/** The domains a resolver should send to us: our zone, and the reverse zones of our VPN subnets. */
export function resolverDomains(zone: string, vpns: readonly VpnInterface[]): string[] {
  return [zone, ...vpns.map((vpn) => reverseZone(vpnAddressBytes(vpn), vpn.prefixLength))];
}

/**
 * Registers our name servers and domains for the TUN link with systemd-resolved (as routing
 * domains only, so no other lookup is sent into the VPN); where it does not run, logs how to
 * point a resolver at us instead. Never fails the member.
 */
export async function registerWithResolver(link: string, servers: readonly string[], domains: readonly string[], log: Logger): Promise<void> {
  try {
    await resolvectl(['dns', link, ...servers]);
    await resolvectl(['domain', link, ...domains.map((domain) => `~${domain}`)]);
    await resolvectl(['default-route', link, 'false']);
    log.info('registered names with systemd-resolved', { link, servers, domains });
  } catch (error) {
    const server = servers[0];
    log.info('systemd-resolved is not available here; point a resolver at our name server to use names', {
      reason: (error as Error).message,
      server: `${server}:${DNS_PORT}`,
      domains,
      dnsmasq: domains.map((domain) => `server=/${domain}/${server}`).join(' '),
      try: `dig @${server} ${domains[0]}`,
    });
  }
}

function resolvectl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('resolvectl', args, { timeout: 5_000 }, (error, _stdout, stderr) => {
      if (!error) resolve();
      else if ((error as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error('resolvectl is not installed'));
      else reject(new Error(`resolvectl ${args.join(' ')}: ${stderr.trim() || error.message}`));
    });
  });
}
