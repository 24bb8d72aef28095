// Turns the member's command-line text into checked values: the VPN address and prefix, the
// rolodex endpoints (names resolved) and the LAN endpoints we advertise to members behind our NAT.
import dns from 'node:dns';
import os from 'node:os';
import { Address4, Address6 } from 'ip-address';
import type { Endpoint } from '../src/net/transport';
import { parseVpnAddress, type VpnAddress } from '../src/member/vpn-address';
import { MAX_LOCAL_ENDPOINTS } from '../src/rolodex-wire';
import { CliError } from './cli-error';

export const DEFAULT_ROLODEX_PORT = 6264;

export class CliConfigError extends CliError {}

/** --vpn-ip: the member's VPN address, and the subnet its TUN device routes into the VPN. */
export interface VpnInterface extends VpnAddress {
  prefixLength: number;
  /** "192.168.50.1/24", as the TUN device is configured. */
  cidr: string;
  /** True when `ip` lies in the VPN subnet (so it is not a LAN address worth advertising). */
  contains(ip: string): boolean;
}

const VPN_IP_EXAMPLE = 'give an address with its prefix length, e.g. --vpn-ip 192.168.50.1/24 or --vpn-ip fd00:6d62::1/64';

/** Parses --vpn-ip: an IPv4 or IPv6 host address with a prefix length that leaves room for peers. */
export function parseVpnIp(text: string): VpnInterface {
  const trimmed = text.trim();
  const bad = (why: string) => new CliConfigError(`bad --vpn-ip "${text}": ${why}; ${VPN_IP_EXAMPLE}`);
  if (!trimmed.includes('/')) throw bad('the prefix length is missing');
  if (trimmed.includes('%')) throw bad('a zone index (%) has no meaning inside the VPN');
  const family = trimmed.includes(':') ? 6 : 4;
  let parsed: Address4 | Address6;
  try {
    parsed = family === 4 ? new Address4(trimmed) : new Address6(trimmed);
  } catch (error) {
    throw bad(`not an IPv${family} address with prefix (${(error as Error).message.replace(/\.$/, '')})`);
  }
  const bits = family === 4 ? 32 : 128;
  const prefixLength = parsed.subnetMask;
  if (prefixLength > bits - 2) throw bad(`a /${prefixLength} leaves no room for other members`);
  if (prefixLength < 8) throw bad(`a /${prefixLength} would route far too much of the address space into the VPN`);
  const address = parsed.correctForm();
  const reserved = reservedRange(parsed, family);
  if (reserved) throw bad(`${address} is ${reserved}`);
  if (parsed.startAddress().correctForm() === address) throw bad(`${address} is the network address of that subnet, not a host`);
  if (family === 4 && parsed.endAddress().correctForm() === address) throw bad(`${address} is the broadcast address of that subnet, not a host`);
  return {
    ...parseVpnAddress(address)!,
    prefixLength,
    cidr: `${address}/${prefixLength}`,
    contains: (ip: string) => parseHost(ip)?.isHostInSubnet(parsed) ?? false,
  };
}

/**
 * Parses every --vpn-ip: one address, or two for a dual-stack member, one IPv4 and one IPv6.
 * The IPv4 one comes first: it is the PSK identity, the only address original members know.
 */
export function parseVpnIps(texts: readonly string[]): VpnInterface[] {
  const vpns = texts.map(parseVpnIp);
  if (vpns.length > 2 || (vpns.length === 2 && vpns[0].family === vpns[1].family)) {
    throw new CliConfigError(`--vpn-ip given ${vpns.length} times (${texts.join(', ')}): give one address, or one IPv4 and one IPv6 address for a dual-stack member`);
  }
  return vpns.sort((a, b) => a.family - b.family);
}

/** Whether `ip` lies in any of our VPN subnets. */
export function inAnyVpn(vpns: readonly VpnInterface[]): { contains(ip: string): boolean } {
  return { contains: (ip) => vpns.some((vpn) => vpn.contains(ip)) };
}

function parseHost(ip: string): Address4 | Address6 | null {
  try {
    return ip.includes(':') ? new Address6(ip) : new Address4(ip);
  } catch {
    return null;
  }
}

function reservedRange(address: Address4 | Address6, family: 4 | 6): string | null {
  const ranges: Array<[string, string]> =
    family === 4
      ? [['0.0.0.0/8', 'in 0.0.0.0/8 ("this network")'], ['127.0.0.0/8', 'a loopback address'], ['224.0.0.0/3', 'a multicast or reserved address']]
      : [['::/127', 'the unspecified or loopback address'], ['ff00::/8', 'a multicast address'], ['fe80::/10', 'a link-local address']];
  const found = ranges.find(([range]) => address.isHostInSubnet(family === 4 ? new Address4(range) : new Address6(range)));
  return found ? found[1] : null;
}

export interface RolodexTarget {
  /** As the user typed it, for messages. */
  text: string;
  host: string;
  port: number;
}

/**
 * Parses one --rolodex-address: HOST, HOST:PORT, an IPv4 literal with or without port, [IPv6] or
 * [IPv6]:PORT, or a bare IPv6 literal (which cannot carry a port).
 */
export function parseRolodexAddress(text: string, defaultPort: number = DEFAULT_ROLODEX_PORT): RolodexTarget {
  const trimmed = text.trim();
  const bad = (why: string) =>
    new CliConfigError(`bad --rolodex-address "${text}": ${why}; use HOST, HOST:PORT, an IP address, or [IPv6]:PORT`);
  if (trimmed === '') throw bad('it is empty');
  let host: string;
  let portText: string | undefined;
  if (trimmed.startsWith('[')) {
    const match = /^\[([^\]]+)\](?::(.*))?$/.exec(trimmed);
    if (!match) throw bad('the closing "]" is missing or followed by something other than ":PORT"');
    host = match[1];
    portText = match[2];
    if (!Address6.isValid(host)) throw bad(`"${host}" is not an IPv6 address`);
  } else if (trimmed.indexOf(':') !== trimmed.lastIndexOf(':')) {
    host = trimmed;
    if (!Address6.isValid(host)) throw bad(`"${host}" is not an IPv6 address (write an IPv6 address with a port as [IPv6]:PORT)`);
  } else {
    const colon = trimmed.indexOf(':');
    host = colon === -1 ? trimmed : trimmed.slice(0, colon);
    portText = colon === -1 ? undefined : trimmed.slice(colon + 1);
    if (host === '') throw bad('the host is missing');
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw bad(`"${host}" is not a host name or IP address`);
  }
  const port = portText === undefined ? defaultPort : parsePort(portText, (why) => bad(why));
  return { text, host, port };
}

/** Parses a UDP port 1..65535 given as decimal text. */
export function parsePort(text: string, error: (why: string) => Error): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw error(`port "${text}" is not a number from 1 to 65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw error(`port ${port} is not from 1 to 65535`);
  return port;
}

export type LookupAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: LookupAll = (host) => dns.promises.lookup(host, { all: true });

const LOOKUP_ADVICE: Record<string, string> = {
  ENOTFOUND: 'no such name',
  EAI_NONAME: 'no such name',
  EAI_AGAIN: 'the name server did not answer (is DNS reachable from here?)',
  ENODATA: 'the name has no IPv4 or IPv6 address',
  EAI_NODATA: 'the name has no IPv4 or IPv6 address',
};

/**
 * Resolves every rolodex to one endpoint. A name with both families resolves to its IPv4 address,
 * and all rolodexes must end up in one family: one UDP socket carries everything, and a socket of
 * one family cannot send to the other.
 */
export async function resolveRolodexes(targets: readonly RolodexTarget[], lookup: LookupAll = systemLookup): Promise<Endpoint[]> {
  if (targets.length === 0) throw new CliConfigError('no rolodex given: name at least one with --rolodex-address HOST[:PORT]');
  const endpoints = await Promise.all(targets.map((target) => resolveOne(target, lookup)));
  const families = new Set(endpoints.map((endpoint) => (endpoint.address.includes(':') ? 6 : 4)));
  if (families.size > 1) {
    const list = endpoints.map((endpoint, i) => `${targets[i].text} -> ${endpoint.address}`).join(', ');
    throw new CliConfigError(`the rolodexes mix IPv4 and IPv6 (${list}); one UDP socket carries all traffic, so give rolodexes of one family`);
  }
  const seen = new Set<string>();
  return endpoints.filter((endpoint) => {
    const key = `${endpoint.address}|${endpoint.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

async function resolveOne(target: RolodexTarget, lookup: LookupAll): Promise<Endpoint> {
  if (Address4.isValid(target.host) || Address6.isValid(target.host)) {
    const address = target.host.includes(':') ? new Address6(target.host).correctForm() : new Address4(target.host).correctForm();
    return { address, port: target.port };
  }
  let results: Array<{ address: string; family: number }>;
  try {
    results = await lookup(target.host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why = LOOKUP_ADVICE[code] ?? (error as Error).message;
    throw new CliConfigError(`cannot resolve rolodex address "${target.text}": ${why} (${code}); check the name, or give the rolodex's IP address`);
  }
  const chosen = results.find((result) => result.family === 4) ?? results[0];
  if (!chosen) throw new CliConfigError(`cannot resolve rolodex address "${target.text}": the name has no addresses; give the rolodex's IP address`);
  return { address: chosen.address, port: target.port };
}

/** The wildcard address for our one UDP socket, in the family of the rolodexes. */
export function bindAddressFor(rolodexes: readonly Endpoint[]): '0.0.0.0' | '::' {
  return rolodexes.some((endpoint) => endpoint.address.includes(':')) ? '::' : '0.0.0.0';
}

/**
 * Our LAN endpoints for the same-NAT extension: every non-internal interface address in the
 * socket's family, with our UDP port, except addresses inside the VPN itself and IPv6 link-local
 * ones (unusable without a zone).
 */
export function computeLocalEndpoints(
  port: number,
  options: { family: 4 | 6; vpn: { contains(ip: string): boolean }; interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]> },
): Endpoint[] {
  const interfaces = options.interfaces ?? os.networkInterfaces();
  const endpoints: Endpoint[] = [];
  for (const name of Object.keys(interfaces).sort()) {
    for (const info of interfaces[name] ?? []) {
      if (info.internal) continue;
      const family = info.family === 'IPv6' ? 6 : 4;
      if (family !== options.family) continue;
      if (family === 6 && /^fe[89ab]/i.test(info.address)) continue;
      if (options.vpn.contains(info.address)) continue;
      if (endpoints.some((endpoint) => endpoint.address === info.address)) continue;
      endpoints.push({ address: info.address, port });
    }
  }
  return endpoints.slice(0, MAX_LOCAL_ENDPOINTS);
}
