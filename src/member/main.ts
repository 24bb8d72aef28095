// The member's composition root: config -> the given socket, device and clock -> peer stores ->
// rolodex client, listings, attempts, sessions, slow path, liveness, the packet path, handshake
// counters and probes; returns the control API.
import { systemClock, type Clock } from '../clock';
import type { CipherSuiteId } from '../dtls/index';
import { logger, type Logger } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { PacketDevice } from '../tun/device';
import { AttemptManager, type AttemptTimings } from './attempt-manager';
import { HandshakeWatch } from './handshake-watch';
import { Inside } from './inside';
import { Listings, type ListingTimings } from './listings';
import { Liveness, type LivenessTimings } from './liveness';
import { Outside } from './outside';
import type { Peer } from './peer';
import { PeerSessions } from './peer-sessions';
import { PeerStore } from './peer-store';
import { Probes, type ProbeResult } from './probes';
import { ReflexiveCandidates } from './reflexive-candidates';
import { RolodexClient, type RolodexTimings } from './rolodex-client';
import { SlowPath } from './slow-path';
import { addSessionCounters, emptySessionCounters, peerStatus, type MemberStatus } from './status';
import { TimerSet } from './timers';
import { parseVpnAddress } from './vpn-address';

export type { MemberStatus, PeerStatus } from './status';
export { ProbeError, type ProbeResult } from './probes';

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
  /** False presents this member to its peers as an original one (see SessionConfig.announceMeshboi). */
  announceMeshboi?: boolean;
}

export interface MemberTimings extends RolodexTimings, AttemptTimings, LivenessTimings, ListingTimings {
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
export const DEFAULT_TIMINGS: Readonly<MemberTimings> = {
  heartbeatMs: 5_000,
  silentAfterMs: 15_000,
  helloWaitMs: 1_000,
  retryInitialMs: 2_000,
  retryMaxMs: 60_000,
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
  /** One probe through the session of the peer holding `vpnIp` (`meshboi ping`); rejects with a ProbeError. */
  ping(vpnIp: string): Promise<ProbeResult>;
  /** close_notify to our own peers only (never an original peer), every timer cleared. Idempotent. */
  stop(): Promise<void>;
}

export async function startMember(
  config: MemberConfig,
  io: { transport: DatagramTransport; device: PacketDevice },
  options: MemberOptions = {},
): Promise<Member> {
  const vpn = parseVpnAddress(config.vpnIp);
  if (!vpn) throw new Error(`VPN IP "${config.vpnIp}" is not an IPv4 or IPv6 address: give one like 192.168.50.1 or fd00::1`);
  const maxPrefix = vpn.family === 4 ? 32 : 128;
  if (!Number.isInteger(config.vpnPrefixLength) || config.vpnPrefixLength < 0 || config.vpnPrefixLength > maxPrefix) {
    throw new Error(`VPN prefix length ${config.vpnPrefixLength} is not between 0 and ${maxPrefix}`);
  }
  if (config.psk.length === 0) throw new Error('the PSK is empty: give one with --psk-file, MESHBOI_PSK or --psk (meshboi genpsk makes one)');
  if (config.rolodexes.length === 0) throw new Error('no rolodex given: add --rolodex-address HOST[:PORT]');
  const timings: MemberTimings = { ...DEFAULT_TIMINGS, ...options.timings };
  const log = options.log ?? logger('member');
  const { transport, device } = io;
  const clock = options.clock ?? systemClock;
  const timers = new TimerSet(clock);

  // The parts call each other through closures that run only once everything below exists.
  const isListed = (peer: Peer): boolean => liveness.isListed(peer);
  const store = new PeerStore(vpn, timings, isListed);
  const outside = new Outside(store, device, clock, (data, from, established) => {
    if (!established && rolodex.receive(data, from)) return;
    slowPath.receive(data, from, established);
  });
  const attempts = new AttemptManager(
    store,
    transport,
    { psk: config.psk, vpn, cipherSuites: config.cipherSuites, announceMeshboi: config.announceMeshboi },
    timings,
    timers,
    clock,
    {
      handshakeComplete: (path, info) => {
        handshakes.completed(path);
        sessions.handshakeComplete(path, info);
      },
      // Probe records of our own peers are told from IP packets by their first byte (probe-codec.ts).
      data: (path, plaintext) => {
        if (!probes.receive(path, plaintext)) outside.deliver(path, plaintext);
      },
      closed: (path, reason) => {
        handshakes.closed(path, reason);
        sessions.closed(path, reason);
      },
    },
    log,
  );
  const sessions = new PeerSessions(store, attempts, clock, isListed, log);
  const candidates = new ReflexiveCandidates(store, attempts, clock, timings.helloWaitMs, log);
  const slowPath = new SlowPath(store, transport, attempts, candidates, clock, log);
  const listings = new Listings(store, attempts, sessions, clock, timings, log);
  const rolodex = new RolodexClient(
    transport,
    config.network,
    config.rolodexes,
    config.localEndpoints ?? [],
    timings,
    timers,
    { onListed: (listing) => listings.listed(listing), onGone: (gone) => listings.gone(gone) },
    log.child({ component: 'rolodex-client' }),
  );
  const liveness = new Liveness(store, transport, timings, timers, () => rolodex.lastMapAt);
  const inside = new Inside(store, clock);
  const handshakes = new HandshakeWatch(clock, log);
  // Round trips on a LAN take well under a millisecond: the system clock's Date.now() would say 0.
  const probes = new Probes(store, timers, timings.probeTimeoutMs, options.clock ? () => clock.now() : () => performance.now());

  outside.attach(transport);
  inside.attach(device);
  rolodex.start();
  liveness.start(sessions, attempts);
  log.info('member started', {
    network: config.network,
    vpnIp: `${vpn.text}/${config.vpnPrefixLength}`,
    rolodexes: config.rolodexes.map(formatEndpoint),
    local: (config.localEndpoints ?? []).map(formatEndpoint),
  });

  let stopping: Promise<void> | null = null;
  return {
    status(): MemberStatus {
      const now = clock.now();
      const self = rolodex.outsideAddress();
      const peers = [...store.peers.values()].map((peer) => peerStatus(peer, now, handshakes.forPeer(peer)));
      return {
        network: config.network,
        vpnIp: vpn.text,
        outsideAddress: self ? formatEndpoint(self) : null,
        tun: { name: device.name, mtu: device.mtu },
        offloads: { tun: device.offloads ?? null, udp: transport.offloads ?? null },
        rolodexes: rolodex.status(now),
        peers,
        drops: { ...inside.drops, ...slowPath.drops, rolodex_malformed: rolodex.malformed },
        handshakes: { completed: handshakes.total.completed, failed: { ...handshakes.total.failed } },
        dtls: peers.reduce((sum, peer) => addSessionCounters(sum, peer.dtls), emptySessionCounters()),
      };
    },
    ping(vpnIp: string): Promise<ProbeResult> {
      return probes.ping(vpnIp);
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        transport.onMessage(() => {});
        device.onPackets(() => {});
        probes.stop();
        sessions.stop();
        timers.clear();
        log.info('member stopped', { network: config.network });
      })();
      return stopping;
    },
  };
}
