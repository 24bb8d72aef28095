// The lab's declarative topology: the short description a test writes, and the pure plan (names,
// addresses, links) the lab builds from it. No I/O here, so the plan is unit-tested without root.

export type NatKind = 'cone' | 'symmetric';

/**
 * What a test asks for, e.g.
 * `{ public: ['rolodex', 'pub'], nats: { home: { kind: 'cone', hosts: ['a1', 'a2'] } }, loss: { a1: 5 } }`.
 * Every name (public host, NAT router, private host) is a host of the lab and must be unique.
 */
export interface TopologyDescription {
  /** Hosts on the internet segment, each with its own public address. */
  public?: string[];
  /** NAT routers by name, each with its kind and the hosts on its LAN. */
  nats?: Record<string, NatDescription>;
  /** Percentage of packets dropped in each direction on a host's uplink. */
  loss?: Record<string, number>;
  /** The internet carries IPv6 too: public hosts and NAT routers also get an address in 2001:db8::/64 (LANs stay IPv4). */
  ipv6?: boolean;
}

export interface NatDescription {
  kind: NatKind;
  hosts: string[];
  /** Seconds an idle UDP mapping lives (Linux defaults: 30 unanswered, 120 once answered); sets both. */
  udpTimeoutSeconds?: number;
}

export type HostRole = 'public' | 'router' | 'private';

export interface PlannedHost {
  name: string;
  role: HostRole;
  /** Address on the host's uplink `eth0`, with its prefix length. */
  address: string;
  prefixLength: number;
  /** The host's IPv6 address on the internet (/64), when the topology has IPv6. */
  address6: string | null;
  /** The NAT router a private host sits behind. */
  nat: string | null;
  /** For a router: its kind and the LAN it serves. */
  natKind: NatKind | null;
  lanAddress: string | null;
  /** For a router: how long idle UDP mappings live, when the description sets it. */
  udpTimeoutSeconds: number | null;
  /** Next hop of the default route: the NAT's LAN address behind a NAT, the internet's gateway otherwise. */
  gateway: string;
  lossPercent: number;
}

export interface TopologyPlan {
  internetPrefix: string;
  hosts: PlannedHost[];
}

export class TopologyError extends Error {}

/** The "internet" segment (TEST-NET-3): its gateway at .1, public hosts from .10, NAT routers from .100. */
export const INTERNET_NETWORK = '203.0.113';
export const INTERNET_GATEWAY = `${INTERNET_NETWORK}.1`;
/** The IPv6 side of the internet (documentation prefix): a host's address ends like its IPv4 one. */
export const INTERNET_NETWORK6 = '2001:db8::';
export const INTERNET_GATEWAY6 = `${INTERNET_NETWORK6}1`;
const FIRST_PUBLIC_HOST = 10;
const FIRST_ROUTER = 100;
const LAST_ADDRESS = 254;
const FIRST_LAN_HOST = 2;
const MAX_NATS = 250;

// Names end up inside namespace names and nft/ip arguments, so they stay short and plain.
const HOST_NAME = /^[a-z][a-z0-9]{0,11}$/;

export function planTopology(description: TopologyDescription): TopologyPlan {
  const publicNames = description.public ?? [];
  const nats = Object.entries(description.nats ?? {});
  const seen = new Set<string>();
  const claim = (name: string): void => {
    if (!HOST_NAME.test(name)) {
      throw new TopologyError(`host name "${name}" is not usable: use 1 to 12 lowercase letters or digits, starting with a letter`);
    }
    if (seen.has(name)) throw new TopologyError(`host name "${name}" is used twice: every public host, NAT and private host needs its own name`);
    seen.add(name);
  };
  if (publicNames.length > FIRST_ROUTER - FIRST_PUBLIC_HOST) throw new TopologyError(`at most ${FIRST_ROUTER - FIRST_PUBLIC_HOST} public hosts fit the internet segment`);
  if (nats.length > Math.min(MAX_NATS, LAST_ADDRESS - FIRST_ROUTER + 1)) throw new TopologyError(`at most ${LAST_ADDRESS - FIRST_ROUTER + 1} NATs fit the internet segment`);

  const hosts: PlannedHost[] = [];
  publicNames.forEach((name, index) => {
    claim(name);
    hosts.push(host(name, 'public', `${INTERNET_NETWORK}.${FIRST_PUBLIC_HOST + index}`, 24));
  });
  nats.forEach(([natName, nat], natIndex) => {
    claim(natName);
    if (nat.kind !== 'cone' && nat.kind !== 'symmetric') {
      throw new TopologyError(`NAT "${natName}" has kind "${String(nat.kind)}": use "cone" or "symmetric"`);
    }
    const lan = `10.${natIndex + 1}.0`;
    if (nat.udpTimeoutSeconds !== undefined && (!Number.isInteger(nat.udpTimeoutSeconds) || nat.udpTimeoutSeconds < 1)) {
      throw new TopologyError(`NAT "${natName}" has udpTimeoutSeconds ${nat.udpTimeoutSeconds}: give a whole number of seconds, at least 1`);
    }
    hosts.push({
      ...host(natName, 'router', `${INTERNET_NETWORK}.${FIRST_ROUTER + natIndex}`, 24),
      natKind: nat.kind,
      lanAddress: `${lan}.1`,
      udpTimeoutSeconds: nat.udpTimeoutSeconds ?? null,
    });
    if (nat.hosts.length > LAST_ADDRESS - FIRST_LAN_HOST + 1) throw new TopologyError(`NAT "${natName}" has too many hosts for one /24 LAN`);
    nat.hosts.forEach((name, hostIndex) => {
      claim(name);
      hosts.push({ ...host(name, 'private', `${lan}.${FIRST_LAN_HOST + hostIndex}`, 24), nat: natName, gateway: `${lan}.1` });
    });
  });
  for (const [name, percent] of Object.entries(description.loss ?? {})) {
    const target = hosts.find((candidate) => candidate.name === name);
    if (!target) throw new TopologyError(`loss is set for "${name}", which is not a host of this topology`);
    target.lossPercent = checkLossPercent(percent);
  }
  if (description.ipv6) {
    for (const planned of hosts) {
      if (planned.role !== 'private') planned.address6 = `${INTERNET_NETWORK6}${planned.address.split('.')[3]}`;
    }
  }
  return { internetPrefix: `${INTERNET_NETWORK}.0/24`, hosts };
}

export function checkLossPercent(percent: number): number {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new TopologyError(`loss ${percent} is not usable: give a whole percentage from 0 to 100`);
  }
  return percent;
}

function host(name: string, role: HostRole, address: string, prefixLength: number): PlannedHost {
  return { name, role, address, prefixLength, address6: null, nat: null, natKind: null, lanAddress: null, udpTimeoutSeconds: null, gateway: INTERNET_GATEWAY, lossPercent: 0 };
}
