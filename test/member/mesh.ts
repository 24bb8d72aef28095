// A test mesh: the real rolodex server and real members (real DTLS) on the in-memory network and
// one simulated clock (see Simulation), with ChannelDevice TUNs, short timings, and helpers to
// build and read IP packets.
import type { CipherSuiteId } from '../../src/dtls/index';
import { RolodexServer } from '../../rolodex/server';
import type { RolodexOptions } from '../../rolodex/options';
import { startMember, type Member, type MemberConfig, type MemberTimings } from '../../src/member/main';
import type { IpPrefix } from '../../src/member/ip-prefix';
import type { PeerStatus } from '../../src/member/status';
import type { MemoryTransport, Nat } from '../../src/net/memory-network';
import type { Endpoint } from '../../src/net/transport';
import { ChannelDevice } from '../../src/tun/channel-device';
import { activeHandles, assertNoLeaks, capturedLogger, type LogCapture } from './harness';
import { Simulation } from '../support/simulation';

export const FAST_ROLODEX: Partial<RolodexOptions> = { mapIntervalMs: 40, forgetAfterMs: 600, joinFlushMs: 0, summaryIntervalMs: 0 };

/** Timings scaled down so a test sees retries, outages and removals within a second or two of simulated time. */
export const FAST_TIMINGS = {
  heartbeatMs: 40,
  silentAfterMs: 400,
  helloWaitMs: 20,
  retryInitialMs: 40,
  retryMaxMs: 300,
  openingWaitMs: 20,
  quietMs: 400,
  handshakeRetransmitMs: 40,
  handshakeMaxTries: 4,
  keepaliveMs: 100,
  deadAfterMs: 1000,
  removeAfterMs: 800,
  listingGraceMs: 400,
  staleAfterMs: 500,
  peerTrialMs: 300,
  relayPingMs: 50,
  relayDeadMs: 200,
  rolodexRelayAfterMs: 200,
} satisfies Partial<MemberTimings>;

export const PSK = Buffer.from('correct horse battery staple');

export interface MeshMember {
  name: string;
  member: Member;
  device: ChannelDevice;
  transport: MemoryTransport;
  config: MemberConfig;
  /** Everything the member logged. */
  logs: LogCapture;
  /** Its DNS socket when asked for. */
  dns: MemoryTransport[];
  /** Each set of accepted routes the member asked its device for, in order. */
  routes: IpPrefix[][];
  /** The routes with a probed MTU the member holds now, by VPN address. */
  peerMtus: Map<string, number>;
}

export interface MemberOptions {
  vpnIp: string;
  /** The member's socket address; behind `nat` it is an inside address. */
  address: string;
  port?: number;
  nat?: Nat;
  psk?: Buffer;
  /** Advertise the socket's own endpoint as our LAN endpoint (what the CLI derives from the interfaces). */
  advertiseLocal?: boolean;
  rolodexes?: Endpoint[];
  cipherSuites?: CipherSuiteId[];
  /** False makes the member present itself as an original (pion) peer. */
  announceMeshboi?: boolean;
  /** Relay for the other members (`--relay`). */
  relay?: boolean;
  /** Default true, as for the CLI. */
  useRelays?: boolean;
  /** A blind network (`--blind`). */
  blind?: boolean;
  /** The network's name; default `testnet`. */
  network?: string;
  timings?: Partial<MemberTimings>;
  /** A dual-stack member's IPv6 address (/64). */
  secondVpnIp?: string;
  name?: string;
  advertiseRoutes?: string[];
  acceptRoutes?: boolean;
  mode?: MemberConfig['mode'];
  /** Answer DNS on a socket at `${vpnIp}:53` of the in-memory network. */
  dns?: boolean;
}

export class Mesh extends Simulation {
  readonly rolodexes: RolodexServer[] = [];
  readonly rolodexEndpoints: Endpoint[] = [];
  readonly members = new Map<string, MeshMember>();

  addRolodex(address = '198.51.100.1', options: Partial<RolodexOptions> = FAST_ROLODEX): RolodexServer {
    const server = new RolodexServer(this.network.attach(address, 6264), options, this.clock);
    server.start();
    this.rolodexes.push(server);
    this.rolodexEndpoints.push({ address, port: 6264 });
    return server;
  }

  async addMember(name: string, options: MemberOptions): Promise<MeshMember> {
    const transport = options.nat ? options.nat.attach(options.address, options.port ?? 0) : this.network.attach(options.address, options.port ?? 0);
    const device = new ChannelDevice(`tun-${name}`);
    const config: MemberConfig = {
      network: options.network ?? 'testnet',
      psk: options.psk ?? PSK,
      vpnIp: options.vpnIp,
      vpnPrefixLength: options.vpnIp.includes(':') ? 64 : 24,
      rolodexes: options.rolodexes ?? this.rolodexEndpoints,
      localEndpoints: options.advertiseLocal ? [transport.localEndpoint()] : [],
      cipherSuites: options.cipherSuites,
      announceMeshboi: options.announceMeshboi,
      relay: options.relay,
      useRelays: options.useRelays,
      blind: options.blind,
      secondVpn: options.secondVpnIp ? { ip: options.secondVpnIp, prefixLength: 64 } : undefined,
      name: options.name,
      advertiseRoutes: options.advertiseRoutes,
      acceptRoutes: options.acceptRoutes,
      mode: options.mode,
    };
    const dns = options.dns ? [this.network.attach(options.vpnIp, 53)] : [];
    const routes: IpPrefix[][] = [];
    const peerMtus = new Map<string, number>();
    const { log, capture } = capturedLogger();
    const member = await startMember(
      config,
      {
        transport,
        device,
        dns,
        routes: { set: (prefixes) => routes.push([...prefixes]) },
        peerMtus: { set: (address, mtu) => (mtu === null ? peerMtus.delete(address.text) : peerMtus.set(address.text, mtu)) },
      },
      { timings: { ...FAST_TIMINGS, ...options.timings }, log, clock: this.clock },
    );
    const entry = { name, member, device, transport, dns, routes, peerMtus, config, logs: capture };
    this.members.set(name, entry);
    return entry;
  }

  /** Alice (192.0.2.10, VPN 192.168.50.1) and bob (192.0.2.20, VPN 192.168.50.2), once each has the other established. */
  async addPair(): Promise<[MeshMember, MeshMember]> {
    const alice = await this.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10' });
    const bob = await this.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20' });
    await this.waitEstablished('alice', '192.168.50.2');
    await this.waitEstablished('bob', '192.168.50.1');
    return [alice, bob];
  }

  get(name: string): MeshMember {
    const entry = this.members.get(name);
    if (!entry) throw new Error(`no member ${name}`);
    return entry;
  }

  /** Stops a member as the CLI does on SIGTERM: stop(), then close the socket and the device. */
  async stopMember(name: string): Promise<void> {
    const entry = this.get(name);
    this.members.delete(name);
    await entry.member.stop();
    await entry.transport.close();
    for (const socket of entry.dns) await socket.close();
    await entry.device.close();
  }

  peerOf(name: string, vpnIp: string): PeerStatus | undefined {
    return this.get(name).member.status().peers.find((peer) => peer.vpnIp === vpnIp && peer.state === 'established');
  }

  async waitEstablished(name: string, vpnIp: string, timeoutMs = 5000): Promise<PeerStatus> {
    await this.until(`${name} established with ${vpnIp}`, () => this.peerOf(name, vpnIp) !== undefined, timeoutMs);
    return this.peerOf(name, vpnIp)!;
  }

  /** Sends one packet from `from` to `to` through the tunnel and waits until `to`'s TUN has it. */
  async ping(from: string, to: string, timeoutMs = 5000): Promise<void> {
    const source = this.get(from);
    const target = this.get(to);
    const written = target.device.written.length;
    const packet = ipPacket(source.config.vpnIp, target.config.vpnIp, `${from}->${to}`);
    source.device.inject(packet);
    try {
      await this.until(`${to}'s TUN receives a packet`, () => target.device.written.length > written, timeoutMs);
    } catch (error) {
      const views = [source, target].map((m) => `${m.name}: ${JSON.stringify(m.member.status().peers)}\n${describeLogs(m.logs)}`).join('\n');
      throw new Error(`${from} -> ${to}: ${(error as Error).message}\n${views}`);
    }
    const last = target.device.written[target.device.written.length - 1];
    if (!last.equals(packet)) throw new Error(`${to} received a different packet than ${from} sent`);
  }

  async close(): Promise<void> {
    for (const name of [...this.members.keys()]) await this.stopMember(name);
    for (const server of this.rolodexes) await server.stop();
    await this.settle();
  }
}

function describeLogs(logs: LogCapture): string {
  return logs.lines.map((line) => `  ${String(line.level)} ${String(line.message)} ${JSON.stringify({ ...line, level: undefined, message: undefined })}`).join('\n');
}

/**
 * Runs `body` on a fresh mesh with one rolodex (FAST_ROLODEX unless given its options), stops
 * everything afterwards even on failure, and fails if a socket or timer leaked.
 */
export async function withMesh(body: (mesh: Mesh) => Promise<void>, rolodexOptions: Partial<RolodexOptions> = FAST_ROLODEX): Promise<void> {
  const before = activeHandles();
  const mesh = new Mesh();
  try {
    mesh.addRolodex(undefined, rolodexOptions);
    await body(mesh);
  } finally {
    await mesh.close();
  }
  mesh.assertNoTimersLeft();
  await assertNoLeaks(before);
}

/** A minimal IPv4 or IPv6 UDP-protocol packet (headers are not checksummed: the member does not look). */
export function ipPacket(source: string, destination: string, body: string): Buffer {
  const payload = Buffer.from(body);
  if (!source.includes(':')) {
    const header = Buffer.alloc(20);
    header[0] = 0x45;
    header.writeUInt16BE(20 + payload.length, 2);
    header[8] = 64;
    header[9] = 17;
    Buffer.from(source.split('.').map(Number)).copy(header, 12);
    Buffer.from(destination.split('.').map(Number)).copy(header, 16);
    return Buffer.concat([header, payload]);
  }
  const header = Buffer.alloc(40);
  header[0] = 0x60;
  header.writeUInt16BE(payload.length, 4);
  header[6] = 17;
  header[7] = 64;
  ipv6Bytes(source).copy(header, 8);
  ipv6Bytes(destination).copy(header, 24);
  return Buffer.concat([header, payload]);
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

/**
 * Members a (192.168.50.1) and b (192.168.50.2) behind two NATs whose direct datagrams to each
 * other are lost until the test calls `unblock`: they can meet only through a relay until then.
 */
export async function pairBehindBlockedNats(mesh: Mesh): Promise<{ unblock(): void }> {
  const natA = mesh.network.addNat({ publicAddress: '203.0.113.1' });
  const natB = mesh.network.addNat({ publicAddress: '203.0.113.2' });
  let blocked = true;
  mesh.network.interceptor = (d) => (blocked && d.from.address.startsWith('10.0.') && d.to.address.startsWith('203.0.113.') ? null : d);
  await mesh.addMember('a', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat: natA });
  await mesh.addMember('b', { vpnIp: '192.168.50.2', address: '10.0.2.2', nat: natB });
  return { unblock: () => void (blocked = false) };
}
