// An in-memory datagram network for tests: transports attached to it exchange datagrams without
// sockets, with NAT boxes, a hook to drop or rewrite each datagram, and packet-by-packet stepping.
import type { Clock } from '../clock';
import type { DatagramTransport, Endpoint, MessageHandler } from './transport';
import { formatEndpoint } from './transport';

export interface InFlight {
  from: Endpoint;
  to: Endpoint;
  data: Buffer;
  /** The IP TTL the sender gave it; routers on the way each take one (see NatOptions.transit). */
  ttl: number;
}

/** What a socket sends with unless told otherwise (Linux's net.ipv4.ip_default_ttl). */
export const DEFAULT_TTL = 64;

/** Returns the datagram to deliver (possibly rewritten), or null to drop it. */
export type Interceptor = (datagram: InFlight) => InFlight | null;

/**
 * How a NAT picks the outside port: `endpoint-independent` keeps one outside port per inside
 * socket (full-cone mapping, what Linux masquerade does when the port is free), `symmetric` takes
 * a new outside port for every destination, which defeats hole punching through a rendezvous.
 */
export type NatKind = 'endpoint-independent' | 'symmetric';

/**
 * What a NAT lets in on a mapping (RFC 4787 section 5): `address-and-port` only datagrams from an
 * endpoint the inside host sent to (port-restricted cone, what Linux conntrack does), `address`
 * datagrams from any port of an address it sent to (address-restricted cone, many home routers).
 */
export type NatFiltering = 'address-and-port' | 'address';

export interface NatOptions {
  publicAddress: string;
  kind?: NatKind;
  /** Default `address-and-port`. */
  filtering?: NatFiltering;
  /** Whether an inside host may reach another inside host through the public address. Default false. */
  hairpin?: boolean;
  /**
   * Linux conntrack without a rule dropping new inbound packets: an unsolicited datagram to a
   * public port leaves an entry for (that port, its sender) that lives on (the sender's
   * retransmissions keep it fresh), so the inside host's own later datagrams to that sender
   * leave from another port. Default false.
   */
  strayEntries?: boolean;
  /**
   * How long a stray entry, and a mapping a stray entry forced onto another port, live without a
   * datagram (Linux's nf_conntrack_udp_timeout: 30 s). Needs the network's clock; default 30 s.
   */
  strayTimeoutMs?: number;
  /**
   * Routers between this NAT and the internet: each takes one from a datagram's TTL, so a datagram
   * sent with a small TTL opens this NAT's mapping and dies before the peer's NAT. Default 0.
   */
  transit?: number;
}

interface Mapping {
  inside: Endpoint;
  publicPort: number;
  /** When an inside datagram last used it: a mapping forced onto another port expires (strayTimeoutMs). */
  lastUsedAt: number;
  /** Remote endpoints the inside host has sent to: the only ones allowed back in (port-restricted filtering). */
  contacted: Set<string>;
  /** Their addresses, for address-restricted filtering. */
  contactedAddresses: Set<string>;
}

/**
 * A NAT box: rewrites the source of datagrams leaving its inside hosts, and lets a datagram in only
 * from a remote endpoint an inside socket has already sent to, as a stateful firewall does.
 * Inside addresses are private: only hosts behind the same NAT reach them. They must be unique
 * across the whole MemoryNetwork.
 */
export class Nat {
  readonly publicAddress: string;
  readonly kind: NatKind;
  readonly filtering: NatFiltering;
  readonly hairpin: boolean;
  readonly strayEntries: boolean;
  readonly strayTimeoutMs: number;
  readonly transit: number;
  readonly insideAddresses = new Set<string>();
  /** Unsolicited datagrams refused at the public address, and hairpins refused. */
  filtered = 0;
  private readonly mappings = new Map<string, Mapping>();
  private readonly byPublicPort = new Map<number, Mapping>();
  /** Conntrack entries unsolicited datagrams left, as "publicPort>remote", with when each was last refreshed. */
  private readonly stray = new Map<string, number>();
  private nextPort = 20000;

  constructor(private readonly network: MemoryNetwork, options: NatOptions) {
    this.publicAddress = options.publicAddress;
    this.kind = options.kind ?? 'endpoint-independent';
    this.filtering = options.filtering ?? 'address-and-port';
    this.hairpin = options.hairpin ?? false;
    this.strayEntries = options.strayEntries ?? false;
    this.strayTimeoutMs = options.strayTimeoutMs ?? 30_000;
    this.transit = options.transit ?? 0;
  }

  /** Stray entries alive now, as "publicPort>remote": what tests look at to see the punching left none. */
  strayEntriesNow(): string[] {
    return [...this.stray.keys()].filter((key) => this.strayAlive(key));
  }

  /** Attaches a host behind this NAT at an inside address. */
  attach(insideAddress: string, port = 0): MemoryTransport {
    this.insideAddresses.add(insideAddress);
    return this.network.attach(insideAddress, port);
  }

  /** The outside endpoint this inside socket currently uses towards `to`, if it has one. */
  publicEndpointOf(inside: Endpoint, to: Endpoint): Endpoint | null {
    const mapping = this.mappingFor(inside, to);
    return mapping ? { address: this.publicAddress, port: mapping.publicPort } : null;
  }

  /** Translates an outgoing datagram's source, creating the mapping and opening the filter. */
  outbound(from: Endpoint, to: Endpoint): Endpoint {
    let mapping = this.mappingFor(from, to);
    if (!mapping) {
      const key = this.mappings.has(this.mappingKey(from, to)) ? flowKey(from, to) : this.mappingKey(from, to);
      mapping = { inside: { ...from }, publicPort: this.nextPort++, lastUsedAt: 0, contacted: new Set(), contactedAddresses: new Set() };
      this.mappings.set(key, mapping);
      this.byPublicPort.set(mapping.publicPort, mapping);
    }
    mapping.lastUsedAt = this.network.now();
    mapping.contacted.add(formatEndpoint(to));
    mapping.contactedAddresses.add(to.address);
    return { address: this.publicAddress, port: mapping.publicPort };
  }

  /** The inside destination of a datagram arriving at the public address, or null when filtered. */
  inbound(from: Endpoint, to: Endpoint): Endpoint | null {
    const mapping = this.byPublicPort.get(to.port);
    const allowed = this.filtering === 'address' ? mapping?.contactedAddresses.has(from.address) : mapping?.contacted.has(formatEndpoint(from));
    if (!mapping || !allowed) {
      this.filtered++;
      if (this.strayEntries) this.stray.set(`${to.port}>${formatEndpoint(from)}`, this.network.now());
      return null;
    }
    return mapping.inside;
  }

  /**
   * The mapping datagrams from `inside` to `to` use: a flow of its own that a stray entry forced
   * onto another port while that flow lives; else the socket's (or, symmetric, the flow's), unless
   * a live stray entry holds its port toward `to` and the flow has not used it yet: then the
   * flow's own (null until the first datagram creates it).
   */
  private mappingFor(inside: Endpoint, to: Endpoint): Mapping | undefined {
    const key = this.mappingKey(inside, to);
    const flow = key === flowKey(inside, to) ? undefined : this.mappings.get(flowKey(inside, to));
    if (flow && this.network.now() - flow.lastUsedAt <= this.strayTimeoutMs) return flow;
    if (flow) {
      this.mappings.delete(flowKey(inside, to));
      this.byPublicPort.delete(flow.publicPort);
    }
    const mapping = this.mappings.get(key);
    if (!mapping || mapping.contacted.has(formatEndpoint(to)) || !this.strayAlive(`${mapping.publicPort}>${formatEndpoint(to)}`)) return mapping;
    return undefined;
  }

  private strayAlive(key: string): boolean {
    const refreshedAt = this.stray.get(key);
    if (refreshedAt === undefined) return false;
    if (this.network.now() - refreshedAt <= this.strayTimeoutMs) return true;
    this.stray.delete(key);
    return false;
  }

  private mappingKey(inside: Endpoint, to: Endpoint): string {
    return this.kind === 'symmetric' ? flowKey(inside, to) : formatEndpoint(inside);
  }
}

function flowKey(inside: Endpoint, to: Endpoint): string {
  return `${formatEndpoint(inside)}>${formatEndpoint(to)}`;
}

export interface MemoryNetworkOptions {
  /** What NATs age their stray entries by; without one they never expire. */
  clock?: Clock;
}

export class MemoryNetwork {
  private readonly bound = new Map<string, MemoryTransport>();
  private readonly nats: Nat[] = [];
  private readonly queue: InFlight[] = [];
  private nextPort = 40000;
  /** Sees every datagram as its sender sent it, before any NAT. */
  interceptor: Interceptor = (d) => d;
  /**
   * When true, datagrams wait in a queue until the test calls step() or flush(), so a race can
   * be played in any order; when false each one is delivered on a later turn, as a socket would.
   */
  manual = false;
  delivered = 0;
  dropped = 0;
  /** Datagrams whose TTL ran out on the way. */
  expired = 0;

  constructor(private readonly options: MemoryNetworkOptions = {}) {}

  /** The network's time: its clock's, or always 0 (nothing expires). */
  now(): number {
    return this.options.clock?.now() ?? 0;
  }

  attach(address: string, port = 0): MemoryTransport {
    const endpoint = { address, port: port || this.nextPort++ };
    const key = formatEndpoint(endpoint);
    if (this.bound.has(key)) throw new Error(`address in use: ${key}`);
    const transport = new MemoryTransport(this, endpoint);
    this.bound.set(key, transport);
    return transport;
  }

  addNat(options: NatOptions): Nat {
    const nat = new Nat(this, options);
    this.nats.push(nat);
    return nat;
  }

  /** Called by a transport (or a test injecting a datagram, at the default TTL unless given); applies the interceptor and NATs, then queues or schedules delivery. */
  route(datagram: Omit<InFlight, 'ttl'> & { ttl?: number }): void {
    const intercepted = this.interceptor({ ...datagram, ttl: datagram.ttl ?? DEFAULT_TTL, data: Buffer.from(datagram.data) });
    const translated = intercepted && this.translate(intercepted);
    if (!translated) {
      this.dropped++;
      return;
    }
    if (this.manual) this.queue.push(translated);
    else setImmediate(() => this.deliver(translated));
  }

  /** Datagrams waiting for step() in manual mode, oldest first. */
  get queued(): readonly InFlight[] {
    return this.queue;
  }

  /** Delivers the oldest `count` queued datagrams (or those `which` selects); returns how many. */
  step(count = 1, which: (datagram: InFlight) => boolean = () => true): number {
    let done = 0;
    for (let i = 0; i < this.queue.length && done < count; ) {
      if (!which(this.queue[i])) {
        i++;
        continue;
      }
      const [datagram] = this.queue.splice(i, 1);
      this.deliver(datagram);
      done++;
    }
    return done;
  }

  /** Drops the queued datagrams `which` selects (all by default); returns how many. */
  discard(which: (datagram: InFlight) => boolean = () => true): number {
    const before = this.queue.length;
    const kept = this.queue.filter((d) => !which(d));
    this.queue.splice(0, this.queue.length, ...kept);
    this.dropped += before - kept.length;
    return before - kept.length;
  }

  detach(endpoint: Endpoint): void {
    this.bound.delete(formatEndpoint(endpoint));
  }

  private deliver(datagram: InFlight): void {
    const target = this.bound.get(formatEndpoint(datagram.to));
    if (!target) {
      this.dropped++;
      return;
    }
    this.delivered++;
    target.deliver(datagram.data, datagram.from);
  }

  /**
   * Applies the sender's NAT (LAN, hairpin or outbound) and the receiver's NAT filter, and the
   * TTL: each NAT and transit router on the way takes one, and a datagram arriving at a router
   * with one left dies there, after the sender's NAT has mapped it if it got that far.
   */
  private translate(datagram: InFlight): InFlight | null {
    let { from, to, ttl } = datagram;
    const senderNat = this.nats.find((nat) => nat.insideAddresses.has(from.address));
    const insideNat = this.nats.find((nat) => nat.insideAddresses.has(to.address));
    if (insideNat && insideNat !== senderNat) {
      // Inside (private) addresses are not routed from outside their NAT.
      insideNat.filtered++;
      return null;
    }
    if (senderNat && !senderNat.insideAddresses.has(to.address)) {
      if (to.address === senderNat.publicAddress && !senderNat.hairpin) {
        senderNat.filtered++;
        return null;
      }
      if (ttl < 2) return this.expire();
      from = senderNat.outbound(from, to);
      ttl -= 1;
    }
    const receiverNat = this.nats.find((nat) => nat.publicAddress === to.address);
    if (senderNat !== insideNat) {
      const routers = (senderNat?.transit ?? 0) + (receiverNat?.transit ?? 0);
      if (ttl <= routers) return this.expire();
      ttl -= routers;
    }
    if (receiverNat) {
      const inside = receiverNat.inbound(from, to);
      if (!inside) return null;
      if (ttl < 2) return this.expire();
      to = inside;
      ttl -= 1;
    }
    return { from, to, data: datagram.data, ttl };
  }

  private expire(): null {
    this.expired++;
    return null;
  }
}

export class MemoryTransport implements DatagramTransport {
  private handler: MessageHandler = () => {};
  private closed = false;

  constructor(private readonly network: MemoryNetwork, private readonly endpoint: Endpoint) {}

  send(data: Uint8Array, port: number, address: string, ttl = DEFAULT_TTL): void {
    if (this.closed) return;
    this.network.route({ from: this.endpoint, to: { address, port }, data: Buffer.from(data), ttl });
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  deliver(data: Buffer, from: Endpoint): void {
    if (!this.closed) this.handler(data, from);
  }

  localEndpoint(): Endpoint {
    return { ...this.endpoint };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.detach(this.endpoint);
  }
}
