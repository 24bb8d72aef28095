// Path MTU between our own members: once a peer of ours is established on a direct path, size
// probes (probe-codec.ts) padded to the packets common underlay MTUs leave room for find the
// largest IP packet that crosses in one record, and routes to the peer's VPN addresses carry that
// MTU, above the device's; the path is checked again every 10 minutes. Originals, relayed paths
// and TAP networks keep the device MTU.
import type { Logger } from '../log';
import { isRelayed } from './relay-endpoint';
import { PEER_MTU_CEILING } from '../tun/device';
import type { Path, Peer } from './peer';
import type { PeerStore } from './peer-store';
import { decodeProbeRecord, encodeProbeRecord, isProbeRecord } from './probe-codec';
import type { TimerSet } from './timers';
import type { VpnAddress } from './vpn-address';

/** Routes that let packets for one VPN address exceed the device MTU; the process keeps the kernel's table in step. */
export interface PeerMtuRoutes {
  /** Routes `address` through the device with `mtu`, or with the device's own MTU again (null). */
  set(address: VpnAddress, mtu: number | null): void;
}

/**
 * Link MTUs of common underlays, largest first: Ethernet, PPPoE, IPv4 tunnels (6in4, GRE), VXLAN
 * and cloud overlays, then two steps down to the IPv6 minimum's neighbourhood.
 */
const UNDERLAY_MTUS = [1500, 1492, 1480, 1450, 1400, 1350, 1300] as const;
const UDP_HEADER_BYTES = 8;
const IP_HEADER_BYTES = { 4: 20, 6: 40 } as const;
/** How often paths are looked at: a route follows a path that ended or moved within this. */
const SWEEP_MS = 1_000;
/** Rounds of probes per path and the time between them: a lost probe costs one round, not the size. */
const ROUNDS = 3;
const ROUND_MS = 2_000;
/** A probed path is checked again this often, so the route follows a path MTU that shrank or grew. */
const RECHECK_MS = 10 * 60_000;

interface Probing {
  path: Path;
  /** Packet sizes still worth a probe, largest first. */
  candidates: number[];
  /** The route's MTU: the largest size the last finished check confirmed, or a larger one answered since; null for none. */
  mtu: number | null;
  /** The largest size answered in the check under way. */
  best: number | null;
  roundsLeft: number;
  nextRoundAt: number;
  /** Probes in flight on this path: id -> the size it tried. */
  sizes: Map<number, number>;
}

export class PathMtu {
  private readonly probing = new Map<Peer, Probing>();
  /** What `routes` was last told, by address text. */
  private readonly installed = new Map<string, { address: VpnAddress; mtu: number }>();
  private nextId = Math.floor(Math.random() * 0xffff_ffff);

  constructor(
    private readonly store: PeerStore,
    private readonly deviceMtu: number,
    private readonly routes: PeerMtuRoutes,
    private readonly timers: TimerSet,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timers.every(SWEEP_MS, () => this.sweep());
  }

  /** The MTU toward `peer` when a probe raised it above the device's; null otherwise. */
  of(peer: Peer): number | null {
    return this.probing.get(peer)?.mtu ?? null;
  }

  /**
   * A record's plaintext from `path`: true when it was a size probe (answered) or a size reply
   * (matched to our probe) of one of our own peers, false for anything else.
   */
  receive(path: Path, plaintext: Buffer): boolean {
    if (!isProbeRecord(plaintext) || !path.info?.peerIsMeshboi) return false;
    const decoded = decodeProbeRecord(plaintext);
    if (!decoded.ok) return false;
    const record = decoded.value;
    if (record.type === 'size') {
      path.session.send(encodeProbeRecord({ type: 'size-reply', id: record.id }));
      return true;
    }
    if (record.type !== 'size-reply') return false;
    const state = path.peer ? this.probing.get(path.peer) : undefined;
    const size = state?.path === path ? state.sizes.get(record.id) : undefined;
    if (state === undefined || size === undefined) return true;
    state.sizes.delete(record.id);
    if (size > (state.best ?? 0)) {
      state.best = size;
      state.candidates = state.candidates.filter((candidate) => candidate > size);
    }
    if (size > (state.mtu ?? 0)) {
      state.mtu = size;
      this.log.info('path MTU raised', { vpnIp: path.peer?.vpn?.text ?? null, endpoint: path.remoteKey, mtu: size, deviceMtu: this.deviceMtu });
      this.apply();
    }
    return true;
  }

  /** Follows each peer's active path: a new direct one of ours is probed, one that ended or moved loses its raised MTU. */
  private sweep(): void {
    const now = this.timers.now();
    for (const [peer, state] of this.probing) {
      if (this.probedPath(peer) !== state.path) this.probing.delete(peer);
    }
    for (const peer of this.store.peers.values()) {
      const path = this.probedPath(peer);
      if (path === null) continue;
      let state = this.probing.get(peer);
      if (state === undefined) {
        state = { path, candidates: this.candidates(path), mtu: null, best: null, roundsLeft: ROUNDS, nextRoundAt: now, sizes: new Map() };
        this.probing.set(peer, state);
      }
      if (now < state.nextRoundAt) continue;
      if (state.roundsLeft > 0 && state.candidates.length > 0) this.sendRound(state, now);
      else this.finishCheck(state, now);
    }
    this.apply();
  }

  /** The check's rounds are over: its largest answer becomes the route's MTU, and the next check is due in RECHECK_MS. */
  private finishCheck(state: Probing, now: number): void {
    if (state.best !== state.mtu) {
      this.log.info('path MTU lowered', { vpnIp: state.path.peer?.vpn?.text ?? null, endpoint: state.path.remoteKey, from: state.mtu, to: state.best ?? this.deviceMtu });
      state.mtu = state.best;
    }
    state.best = null;
    state.candidates = this.candidates(state.path);
    state.roundsLeft = ROUNDS;
    state.nextRoundAt = now + RECHECK_MS;
    state.sizes.clear();
  }

  /** The path to probe: the active one of a peer of ours, when it is direct. */
  private probedPath(peer: Peer): Path | null {
    const path = peer.active;
    if (path === null || peer.kind !== 'meshboi' || peer.vpn === null || isRelayed(path.remote)) return null;
    return this.store.peers.get(peer.outsideKey) === peer ? path : null;
  }

  /** The packet sizes whose records fit the underlay MTUs, over this path's address family and cipher suite. */
  private candidates(path: Path): number[] {
    const family = path.remote.address.includes(':') ? 6 : 4;
    const overhead = IP_HEADER_BYTES[family] + UDP_HEADER_BYTES + path.session.recordOverhead;
    const sizes = UNDERLAY_MTUS.map((mtu) => Math.min(mtu - overhead, PEER_MTU_CEILING)).filter((size) => size > this.deviceMtu);
    return [...new Set(sizes)];
  }

  private sendRound(state: Probing, now: number): void {
    state.roundsLeft--;
    state.nextRoundAt = now + ROUND_MS;
    state.sizes.clear();
    for (const length of state.candidates) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) >>> 0;
      state.sizes.set(id, length);
      state.path.session.send(encodeProbeRecord({ type: 'size', id, length }));
    }
  }

  /** Tells `routes` what changed since it was last told: raised MTUs of live paths, and the ones that ended. */
  private apply(): void {
    const wanted = new Map<string, { address: VpnAddress; mtu: number }>();
    for (const [peer, state] of this.probing) {
      if (state.mtu === null || peer.vpn === null) continue;
      for (const address of [peer.vpn, ...peer.extraVpn]) wanted.set(address.text, { address, mtu: state.mtu });
    }
    for (const [text, route] of this.installed) {
      if (wanted.has(text)) continue;
      this.installed.delete(text);
      this.routes.set(route.address, null);
    }
    for (const [text, route] of wanted) {
      if (this.installed.get(text)?.mtu === route.mtu) continue;
      this.installed.set(text, route);
      this.routes.set(route.address, route.mtu);
    }
  }
}
