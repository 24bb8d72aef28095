// The member's composition root: config -> the given socket, device and clock -> peer stores ->
// rolodex client, listings, attempts, sessions, slow path, liveness, the packet path (or a TAP
// member's switch), peer-info, names, handshake counters and probes; returns the control API.
import { systemClock, type Clock } from '../clock';
import type { CipherSuiteId } from '../dtls/index';
import { logger, type Logger } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { PacketDevice } from '../tun/device';
import { AttemptManager, type AttemptTimings } from './attempt-manager';
import { PathFactory } from './path-factory';
import { PathMtu, type PeerMtuRoutes } from './path-mtu';
import { UnansweredBudget } from './unanswered-budget';
import { BlindNetwork } from './blind-network';
import { FastPath } from './fast-path';
import { HandshakeWatch } from './handshake-watch';
import { Inside } from './inside';
import { Listings, type ListingTimings } from './listings';
import { Liveness, type LivenessTimings } from './liveness';
import { Outside } from './outside';
import type { Peer } from './peer';
import { PeerSessions } from './peer-sessions';
import { PeerStore } from './peer-store';
import { Probes, type ProbeResult } from './probes';
import { Relays, type RelayTimings } from './relays';
import { ReflexiveCandidates } from './reflexive-candidates';
import { RolodexClient, type RolodexTimings } from './rolodex-client';
import { SessionReplacement, type ReplacementTimings } from './session-replacement';
import { SlowPath } from './slow-path';
import { addSessionCounters, emptySessionCounters } from './session-counters';
import { peerStatus, type MemberStatus } from './status';
import { TimerSet } from './timers';
import { ControlRecords } from './control-record';
import { parsePrefix, prefixesOverlap, prefixOfAddress, type IpPrefix } from './ip-prefix';
import { MemberNames, zoneOf } from './names';
import { isNameLabel, type LinkMode } from './peer-info';
import { PeerInfoExchange } from './peer-info-exchange';
import { TapSwitch } from './tap-switch';
import { parseVpnAddress, type VpnAddress } from './vpn-address';
import { DEFAULT_RELAY_LIMITS, type RelayLimits } from '../relay/budget';
import { RELAY_FRAME_TYPES } from '../relay/wire';

export type { MemberStatus, PeerStatus } from './status';
export { ProbeError, type ProbeResult } from './probes';
export type { PeerMtuRoutes } from './path-mtu';

export interface MemberConfig {
  network: string;
  /** The raw bytes of the PSK text (the original uses them as typed). */
  psk: Buffer;
  /** "192.168.50.1" or an IPv6 address, without prefix length. */
  vpnIp: string;
  vpnPrefixLength: number;
  /** Already resolved. */
  rolodexes: Endpoint[];
  /** Our LAN endpoints to advertise, so members behind the same NAT can reach us directly. */
  localEndpoints?: Endpoint[];
  cipherSuites?: CipherSuiteId[];
  /**
   * False presents this member to its peers as an original one (see SessionConfig.announceMeshboi),
   * and to the rolodex as one that takes no relay frames, as an original never does.
   */
  announceMeshboi?: boolean;
  /** Forward for the other members of the network (`--relay`, docs/relays.md). Default false. */
  relay?: boolean;
  /** Reach peers through members that relay, while direct fails. Default true. */
  useRelays?: boolean;
  /** What a relay forwards per pair; default DEFAULT_RELAY_LIMITS. */
  relayLimits?: RelayLimits;
  /**
   * A blind network (`--blind`): the rolodex sees a tag for the name, our LAN endpoints and VPN IP
   * only sealed, and we try only members whose voucher opens. Our members only: originals cannot join.
   */
  blind?: boolean;
  /**
   * A dual-stack member's IPv6 address (vpnIp is then the IPv4 one, the PSK identity): only our
   * members learn it, through peer-info; original peers know the IPv4 address alone.
   */
  secondVpn?: { ip: string; prefixLength: number };
  /** Our name (a DNS label) told to our members; null for none. */
  name?: string | null;
  /** Prefixes of our LAN we forward for, told to our members (--advertise-route). */
  advertiseRoutes?: string[];
  /** Route the prefixes our members advertise through the VPN (--accept-routes). */
  acceptRoutes?: boolean;
  /** 'tap': the device carries Ethernet frames (tap-switch.ts); a network of our members only. */
  mode?: LinkMode;
}

/** The routes through the device toward accepted prefixes; the process keeps the kernel's table in step. */
export interface DeviceRoutes {
  set(prefixes: readonly IpPrefix[]): void;
}

export interface MemberTimings extends RolodexTimings, AttemptTimings, ReplacementTimings, LivenessTimings, ListingTimings, RelayTimings {
  /**
   * An established peer silent this long is presumed restarted when another member claims its
   * VPN IP: two keepalive intervals (a live one of ours sends at least every 1.5 intervals).
   */
  staleAfterMs: number;
  /** Server handshakes in flight at most. */
  maxPending: number;
  /** How long `meshboi ping` waits for a probe's reply. */
  probeTimeoutMs: number;
}

/** The spec's timings where it has them (heartbeat 5 s, client wait 1 s); the rest are ours. */
/** How often packet counts and liveness come over from the native data path (fast-path.ts). */
const FAST_PATH_SYNC_MS = 500;

export const DEFAULT_TIMINGS: Readonly<MemberTimings> = {
  heartbeatMs: 5_000,
  silentAfterMs: 15_000,
  helloWaitMs: 1_000,
  retryInitialMs: 2_000,
  retryMaxMs: 60_000,
  openingTtl: 2,
  openingWaitMs: 1_000,
  quietMs: 32_000,
  handshakeRetransmitMs: 1_000,
  handshakeMaxTries: 5,
  maxPeers: 1_024,
  peerTrialMs: 10_000,
  keepaliveMs: 10_000,
  deadAfterMs: 45_000,
  removeAfterMs: 60_000,
  listingGraceMs: 60_000,
  staleAfterMs: 20_000,
  maxPending: 256,
  relayPingMs: 1_000,
  relayDeadMs: 4_000,
  // Direct punching, or a relay member, connects a pair within a few seconds when it can.
  rolodexRelayAfterMs: 5_000,
  probeTimeoutMs: 2_000,
};

export interface MemberOptions {
  /** Overrides of DEFAULT_TIMINGS (tests shorten them). */
  timings?: Partial<MemberTimings>;
  /** Where the member logs; default the process-wide logger. */
  log?: Logger;
  /** Where the member's time and timers come from, its DTLS sessions' included; default the system's. */
  clock?: Clock;
}

/** The control API: what `meshboi status` and tests use, never the member's internals. */
export interface Member {
  status(): MemberStatus;
  /** Our full DNS name, "alice.home.meshboi"; null when names are off. */
  readonly fullName: string | null;
  /** One probe through the session of the peer holding `vpnIp` (`meshboi ping`); rejects with a ProbeError. */
  ping(vpnIp: string): Promise<ProbeResult>;
  /** close_notify to our own peers only (never an original peer), every timer cleared. Idempotent. */
  stop(): Promise<void>;
}

export async function startMember(
  config: MemberConfig,
  io: {
    transport: DatagramTransport;
    device: PacketDevice;
    /** UDP sockets on our VPN addresses, port 53, answering DNS for our names. */
    dns?: DatagramTransport[];
    /** Where accepted routes are installed; without it --accept-routes only changes what we accept. */
    routes?: DeviceRoutes;
    /** Where routes with a probed MTU above the device's go; without it every peer keeps the device MTU. */
    peerMtus?: PeerMtuRoutes;
  },
  options: MemberOptions = {},
): Promise<Member> {
  const vpn = parseVpnAddress(config.vpnIp);
  if (!vpn) throw new Error(`VPN IP "${config.vpnIp}" is not an IPv4 or IPv6 address: give one like 192.168.50.1 or fd00::1`);
  const maxPrefix = vpn.family === 4 ? 32 : 128;
  if (!Number.isInteger(config.vpnPrefixLength) || config.vpnPrefixLength < 0 || config.vpnPrefixLength > maxPrefix) {
    throw new Error(`VPN prefix length ${config.vpnPrefixLength} is not between 0 and ${maxPrefix}`);
  }
  const second = config.secondVpn ? checkSecondVpn(vpn, config.secondVpn) : null;
  const ownPrefixes = [prefixOfAddress(vpn, config.vpnPrefixLength), ...(second ? [prefixOfAddress(second.vpn, second.prefixLength)] : [])];
  const advertised = checkAdvertisedRoutes(config.advertiseRoutes ?? [], ownPrefixes);
  if (config.name != null && !isNameLabel(config.name)) throw new Error(`name "${config.name}" is not a DNS label: use 1 to 63 of a-z, 0-9 and "-", not starting or ending with "-"`);
  if (config.mode === 'tap' && advertised.length + (config.acceptRoutes ? 1 : 0) > 0) {
    throw new Error('routes (--advertise-route, --accept-routes) are for TUN networks: a TAP network is one Ethernet segment, so bridge the LAN to the TAP device instead');
  }
  if (config.psk.length === 0) throw new Error('the PSK is empty: give one with --psk-file, MESHBOI_PSK or --psk (meshboi genpsk makes one)');
  if (config.rolodexes.length === 0) throw new Error('no rolodex given: add --rolodex-address HOST[:PORT]');
  const timings: MemberTimings = { ...DEFAULT_TIMINGS, ...options.timings };
  const log = options.log ?? logger('member');
  const { device } = io;
  const clock = options.clock ?? systemClock;
  const timers = new TimerSet(clock);
  const blind = config.blind ? new BlindNetwork(config.psk, config.network) : null;

  // The parts call each other through closures that run only once everything below exists.
  const isListed = (peer: Peer): boolean => liveness.isListed(peer);
  const ownAddresses = [vpn, ...(second ? [second.vpn] : [])];
  const name = config.name ?? null;
  const store = new PeerStore(
    vpn,
    timings,
    isListed,
    { extraVpn: second ? [second.vpn] : [], prefixes: [...ownPrefixes, ...advertised], name },
    (path) => fastPath?.disarm(path),
  );
  const control = new ControlRecords();
  const frames = config.mode === 'tap' ? new TapSwitch(store, device, clock) : null;
  // A TAP member's records are Ethernet frames, which the native data path does not take.
  const fastPath = frames ? null : new FastPath(io.transport.nativeReceive ?? null, device, store, clock, log);
  /** Our socket's own endpoints (the LAN endpoints we advertise): the rolodex seeing one of them means no NAT. */
  const ownEndpoints = new Set((config.localEndpoints ?? []).map(formatEndpoint));
  // Everything but the rolodex client sends through Relays: relayed endpoints go through a relay.
  const transport = new Relays(
    io.transport,
    store,
    { offer: config.relay ?? false, use: config.useRelays ?? true, limits: config.relayLimits ?? DEFAULT_RELAY_LIMITS },
    timings,
    clock,
    {
      relayLost: (relay, paths) => sessions.relayLost(relay, paths),
      punch: (peer) => attempts.punchNow(peer),
      tryThrough: (peer, endpoint) => attempts.tryThrough(peer, endpoint),
    },
    log.child({ component: 'relays' }),
    { relayAt: (key) => rolodex.relayAt(key), relays: () => rolodex.relays() },
  );
  for (const type of RELAY_FRAME_TYPES) control.on(type, (peer, record) => transport.frame(peer, record));
  const outside = new Outside(
    store,
    device,
    clock,
    (data, from, established) => {
      if (!established && rolodex.receive(data, from)) return;
      slowPath.receive(data, from, established);
    },
    control,
    frames,
    fastPath,
  );
  const unanswered = new UnansweredBudget(clock);
  const paths = new PathFactory(
    transport,
    { psk: config.psk, vpn, cipherSuites: config.cipherSuites, announceMeshboi: config.announceMeshboi, blind },
    timings,
    clock,
    {
      handshakeComplete: (path, info) => {
        handshakes.completed(path);
        sessions.handshakeComplete(path, info);
      },
      // Probe records of our own peers are told from IP packets by their first byte (probe-codec.ts).
      data: (path, plaintext) => {
        if (!probes.receive(path, plaintext) && !pathMtu?.receive(path, plaintext)) outside.deliver(path, plaintext);
      },
      closed: (path, reason) => {
        handshakes.closed(path, reason);
        sessions.closed(path, reason);
      },
    },
    unanswered,
  );
  const attempts = new AttemptManager(
    store,
    transport,
    paths,
    unanswered,
    timings,
    timers,
    clock,
    log,
    { endpointsFor: (peer) => transport.endpointsFor(peer), announcePunch: (peer) => transport.announcePunch(peer) },
    () => {
      const self = rolodex.outsideAddress();
      return self === null || !ownEndpoints.has(formatEndpoint(self));
    },
  );
  // A member posing as an original one (tests) sends no control records, as an original never does.
  const ours = config.announceMeshboi !== false;
  const sessions = new PeerSessions(store, attempts, clock, isListed, log, (peer) => {
    if (ours) peerInfo.established(peer);
  });
  const peerInfo = new PeerInfoExchange(
    store,
    { addresses: second ? [second.vpn] : [], name, routes: advertised, mode: config.mode ?? 'tun' },
    config.acceptRoutes ?? false,
    timers,
    {
      routesChanged: () => io.routes?.set(store.prefixRoutes.map((route) => route.prefix)),
      modeMismatch: (peer, reason) => {
        log.warn('refused a peer of the other mode', { vpnIp: peer.vpn?.text, reason });
        sessions.closePeer(peer, reason, { notify: true, repunch: true });
      },
    },
    log,
  );
  const candidates = new ReflexiveCandidates(store, attempts, clock, timings.helloWaitMs, log);
  const listings = new Listings(store, attempts, sessions, clock, timings, log);
  const replacement = new SessionReplacement(store, attempts, timings, clock);
  const slowPath = new SlowPath(store, transport, attempts, candidates, listings, replacement, clock, log);
  const rolodex = new RolodexClient(
    io.transport,
    config.network,
    config.rolodexes,
    config.localEndpoints ?? [],
    timings,
    timers,
    { onListed: (listing) => listings.listed(listing), onGone: (gone) => listings.gone(gone) },
    log.child({ component: 'rolodex-client' }),
    blind,
    ours && (config.useRelays ?? true),
  );
  const liveness = new Liveness(store, transport, timings, timers, () => rolodex.lastMapAt);
  const inside = new Inside(store, clock);
  const zone = zoneOf(config.network);
  const names = typeof zone === 'string' ? null : new MemberNames(zone, name, ownAddresses, store);
  if (typeof zone === 'string' && (io.dns?.length ?? 0) > 0) log.warn(zone);
  if (names) for (const socket of io.dns ?? []) names.serve(socket, log);
  const handshakes = new HandshakeWatch(clock, log);
  // Round trips on a LAN take well under a millisecond: the system clock's Date.now() would say 0.
  const probes = new Probes(store, timers, timings.probeTimeoutMs, options.clock ? () => clock.now() : () => performance.now());
  // A TAP device carries Ethernet frames, which routes cannot size per peer.
  const pathMtu = io.peerMtus && !frames && ours ? new PathMtu(store, device.mtu, io.peerMtus, timers, log.child({ component: 'path-mtu' })) : null;

  outside.attach(transport);
  if (frames) frames.attach(device);
  else inside.attach(device);
  rolodex.start();
  liveness.start(sessions, attempts);
  if (fastPath) timers.every(FAST_PATH_SYNC_MS, () => fastPath.sync());
  transport.start(timers);
  pathMtu?.start();
  if (ours) peerInfo.attach(control, Math.max(1, Math.floor(timings.keepaliveMs / 2)));
  log.info('member started', {
    network: config.network,
    blind: blind !== null,
    vpnIp: `${vpn.text}/${config.vpnPrefixLength}`,
    ...(second ? { secondVpnIp: `${second.vpn.text}/${second.prefixLength}` } : {}),
    name: names?.fullName ?? null,
    ...(advertised.length > 0 ? { advertiseRoutes: advertised.map((route) => route.text) } : {}),
    rolodexes: config.rolodexes.map(formatEndpoint),
    local: (config.localEndpoints ?? []).map(formatEndpoint),
  });

  let stopping: Promise<void> | null = null;
  return {
    fullName: names?.fullName ?? null,
    status(): MemberStatus {
      // Counts the native data path kept since its last sync, before the peers are read.
      fastPath?.sync();
      const now = clock.now();
      const self = rolodex.outsideAddress();
      const peers = [...store.peers.values()].map((peer) => peerStatus(peer, now, handshakes.forPeer(peer), names?.zone ?? null, peer.active && transport.relayOf(peer.active), pathMtu?.of(peer) ?? null));
      return {
        network: config.network,
        vpnIp: vpn.text,
        vpnIps: ownAddresses.map((address) => address.text),
        name: names?.fullName ?? null,
        outsideAddress: self ? formatEndpoint(self) : null,
        tun: { name: device.name, mtu: device.mtu },
        offloads: { tun: device.offloads ?? null, udp: io.transport.offloads ?? null },
        nativePath: fastPath?.status() ?? null,
        rolodexes: rolodex.status(now),
        peers,
        drops: {
          ...(frames ? frames.drops : inside.drops),
          ...slowPath.drops,
          ...transport.drops,
          rolodex_malformed: rolodex.malformed,
          rolodex_unvouched: rolodex.unvouched,
          unanswered_throttled: attempts.unanswered.refused,
          peer_info_malformed: peerInfo.malformed,
          control_unknown: control.unknown,
        },
        handshakes: { completed: handshakes.total.completed, failed: { ...handshakes.total.failed } },
        dtls: [...store.pending.values(), ...store.established.values()].reduce(
          (sum, path) => addSessionCounters(sum, path.session.counters),
          addSessionCounters(emptySessionCounters(), store.endedSessions),
        ),
        relay: transport.status(),
      };
    },
    ping(vpnIp: string): Promise<ProbeResult> {
      return probes.ping(vpnIp);
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        transport.onMessage(() => {});
        device.onPackets(() => {});
        for (const socket of io.dns ?? []) socket.onMessage(() => {});
        probes.stop();
        fastPath?.stop();
        sessions.stop();
        timers.clear();
        log.info('member stopped', { network: config.network });
      })();
      return stopping;
    },
  };
}

/** The dual-stack member's second address: the other family, and the first (the PSK identity) IPv4. */
function checkSecondVpn(first: VpnAddress, second: { ip: string; prefixLength: number }): { vpn: VpnAddress; prefixLength: number } {
  const vpn = parseVpnAddress(second.ip);
  if (!vpn) throw new Error(`second VPN IP "${second.ip}" is not an IPv4 or IPv6 address`);
  if (vpn.family === first.family || first.family !== 4) {
    throw new Error(`two VPN IPs must be one IPv4 and one IPv6 address (got ${first.text} and ${vpn.text}); the IPv4 one comes first`);
  }
  if (!Number.isInteger(second.prefixLength) || second.prefixLength < 0 || second.prefixLength > 128) {
    throw new Error(`VPN prefix length ${second.prefixLength} is not between 0 and 128`);
  }
  return { vpn, prefixLength: second.prefixLength };
}

/** Our advertised routes: prefixes, none overlapping another or the VPN itself. */
function checkAdvertisedRoutes(texts: readonly string[], vpnPrefixes: readonly IpPrefix[]): IpPrefix[] {
  const routes: IpPrefix[] = [];
  for (const text of texts) {
    const route = parsePrefix(text);
    if (typeof route === 'string') throw new Error(`bad advertised route: ${route}`);
    const clash = [...vpnPrefixes, ...routes].find((other) => prefixesOverlap(route, other));
    if (clash) throw new Error(`advertised route ${route.text} overlaps ${clash.text}: advertise each LAN once and never the VPN's own subnet`);
    routes.push(route);
  }
  return routes;
}
