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
  /**
   * Transit routers between a site (public host or NAT router) and the internet, by site name, e.g.
   * `{ home: 1 }`: each is a namespace forwarding between two links, so TTLs have hops to count.
   * They are named `<site>t1` (nearest the internet) to `<site>t<n>`; the site keeps its address.
   */
  transit?: Record<string, number>;
  /** Pairs of sites (public hosts or NAT routers) whose UDP to each other is dropped both ways on the internet; they still reach everyone else. */
  blockUdp?: Array<[string, string]>;
}

export interface NatDescription {
  kind: NatKind;
  hosts: string[];
  /** Seconds an idle UDP mapping lives (Linux defaults: 30 unanswered, 120 once answered); sets both. */
  udpTimeoutSeconds?: number;
  /**
   * false: the router accepts unsolicited packets addressed to itself (no input filter, as a Linux host
   * masquerading for its containers or VMs), so a peer's early packet leaves a stray conntrack entry
   * that makes the NAT map our own later packets to that peer onto another port. Default true.
   */
  inputFilter?: boolean;
}

export type HostRole = 'public' | 'router' | 'private' | 'transit';

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
  /** For a router: whether it drops unsolicited packets on its uplink (false keeps stray conntrack state). */
  inputFilter: boolean;
  /** The transit router this host's uplink plugs into; null when it is on the internet bridge or a LAN. */
  upstream: string | null;
  /** For a transit router: the site address it routes down its `downlink` (it proxies ARP both ways). */
  routesDown: string | null;
  /** Next hop of the default route: the NAT's LAN address behind a NAT, the internet's gateway otherwise. */
  gateway: string;
  lossPercent: number;
}

export interface TopologyPlan {
  internetPrefix: string;
  hosts: PlannedHost[];
  /** Address pairs whose UDP to each other the internet drops. */
  blockedUdp: Array<[string, string]>;
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
/** Transit routers' own addresses (TEST-NET-2), used only as the source of their ICMP and ARP. */
export const TRANSIT_NETWORK = '198.51.100';
const MAX_TRANSIT_HOPS = 8;

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
      inputFilter: nat.inputFilter ?? true,
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
    if (Object.keys(description.transit ?? {}).length > 0) throw new TopologyError('transit routers carry IPv4 only: leave out ipv6 or transit');
    for (const planned of hosts) {
      if (planned.role !== 'private') planned.address6 = `${INTERNET_NETWORK6}${planned.address.split('.')[3]}`;
    }
  }
  const planned = [...hosts, ...planTransit(description.transit ?? {}, hosts, claim)];
  return { internetPrefix: `${INTERNET_NETWORK}.0/24`, hosts: planned, blockedUdp: planBlockedUdp(description.blockUdp ?? [], hosts) };
}

/** A site on the internet: a public host or a NAT router, the hosts transit and UDP blocks apply to. */
function findSite(hosts: PlannedHost[], name: string, option: string): PlannedHost {
  const site = hosts.find((candidate) => candidate.name === name);
  if (!site || (site.role !== 'public' && site.role !== 'router')) {
    throw new TopologyError(`${option} names "${name}", which is not a public host or NAT of this topology`);
  }
  return site;
}

/** Chains of transit routers, outermost first, each routing its site's address down toward it. */
function planTransit(transit: Record<string, number>, hosts: PlannedHost[], claim: (name: string) => void): PlannedHost[] {
  const routers: PlannedHost[] = [];
  for (const [siteName, hops] of Object.entries(transit)) {
    const site = findSite(hosts, siteName, 'transit');
    if (!Number.isInteger(hops) || hops < 0 || hops > MAX_TRANSIT_HOPS) {
      throw new TopologyError(`transit for "${siteName}" is ${hops}: give a whole number of routers from 0 to ${MAX_TRANSIT_HOPS}`);
    }
    let upstream: string | null = null;
    for (let hop = 1; hop <= hops; hop++) {
      const name = `${siteName}t${hop}`;
      claim(name);
      if (routers.length >= LAST_ADDRESS) throw new TopologyError(`at most ${LAST_ADDRESS} transit routers fit ${TRANSIT_NETWORK}.0/24`);
      routers.push({ ...host(name, 'transit', `${TRANSIT_NETWORK}.${routers.length + 1}`, 32), upstream, routesDown: site.address });
      upstream = name;
    }
    site.upstream = upstream;
  }
  return routers;
}

function planBlockedUdp(pairs: Array<[string, string]>, hosts: PlannedHost[]): Array<[string, string]> {
  return pairs.map(([first, second]) => {
    if (first === second) throw new TopologyError(`blockUdp pairs "${first}" with itself: name two different sites`);
    return [findSite(hosts, first, 'blockUdp').address, findSite(hosts, second, 'blockUdp').address];
  });
}

export function checkLossPercent(percent: number): number {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new TopologyError(`loss ${percent} is not usable: give a whole percentage from 0 to 100`);
  }
  return percent;
}

function host(name: string, role: HostRole, address: string, prefixLength: number): PlannedHost {
  return {
    name,
    role,
    address,
    prefixLength,
    address6: null,
    nat: null,
    natKind: null,
    lanAddress: null,
    udpTimeoutSeconds: null,
    inputFilter: true,
    upstream: null,
    routesDown: null,
    gateway: INTERNET_GATEWAY,
    lossPercent: 0,
  };
}
