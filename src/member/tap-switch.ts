// A TAP network's switch: Ethernet frames between the TAP device and our peers' sessions.
//   device (a batch of frames) -> destination MAC: one learned from a peer goes to that peer;
//   broadcast, multicast and unknown unicast go to every peer of ours, within a rate bound ->
//   a frame record (FRAME_RECORD, then the frame) -> session.
//   frame record from a peer -> its source MAC learned for that peer (one another live peer holds
//   is refused as spoofed) -> device.
// A frame record's first byte is neither an IP version nor a control type, so a TUN member that
// meets one drops it as malformed and never writes it to its device.
import type { Clock } from '../clock';
import type { PacketDevice } from '../tun/device';
import type { Peer } from './peer';
import type { PeerStore } from './peer-store';

export const FRAME_RECORD = 0xe0;
const ETHERNET_HEADER_BYTES = 14;

export interface SwitchLimits {
  /** Frames flooded (broadcast, multicast, unknown unicast) per second at most, each to every peer... */
  floodPerSecond: number;
  /** ...with bursts up to this many. */
  floodBurst: number;
  /** A MAC not heard from its peer for this long may move to another peer. */
  macAgeMs: number;
  /** MAC addresses learned at most; beyond, frames still pass but their replies are flooded. */
  maxMacs: number;
}

export const DEFAULT_SWITCH_LIMITS: Readonly<SwitchLimits> = { floodPerSecond: 500, floodBurst: 100, macAgeMs: 300_000, maxMacs: 4_096 };

interface Learned {
  peer: Peer;
  seenAt: number;
}

export class TapSwitch {
  /** Frames no peer can be charged with. */
  readonly drops = { flood_limited: 0, malformed: 0 };
  private readonly macs = new Map<number, Learned>();
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly store: PeerStore,
    private readonly device: PacketDevice,
    private readonly clock: Clock,
    private readonly limits: SwitchLimits = DEFAULT_SWITCH_LIMITS,
  ) {
    this.tokens = limits.floodBurst;
    this.refilledAt = clock.now();
  }

  attach(device: PacketDevice): void {
    device.onPackets(this.sendBatch);
  }

  private readonly sendBatch = (frames: readonly Buffer[]): void => {
    const now = this.clock.now();
    for (let i = 0; i < frames.length; i++) this.send(frames[i], now);
  };

  private send(frame: Buffer, now: number): void {
    if (frame.length < ETHERNET_HEADER_BYTES) {
      this.drops.malformed++;
      return;
    }
    if ((frame[0] & 1) === 0) {
      const learned = this.macs.get(macAt(frame, 0));
      if (learned !== undefined && this.isLive(learned, now)) {
        this.unicast(learned.peer, frame, now);
        return;
      }
    }
    this.flood(frame, now);
  }

  private flood(frame: Buffer, now: number): void {
    this.tokens = Math.min(this.limits.floodBurst, this.tokens + ((now - this.refilledAt) * this.limits.floodPerSecond) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) {
      this.drops.flood_limited++;
      return;
    }
    this.tokens--;
    for (const peer of this.store.peers.values()) {
      if (peer.active !== null && peer.infoHeard) this.unicast(peer, frame, now);
    }
  }

  /** Sends to a peer of ours whose peer-info said TAP (a mismatched one was closed on hearing it). */
  private unicast(peer: Peer, frame: Buffer, now: number): void {
    const path = peer.active;
    if (path === null || !peer.infoHeard) {
      peer.drops.not_established++;
      return;
    }
    const record = Buffer.allocUnsafe(frame.length + 1);
    record[0] = FRAME_RECORD;
    frame.copy(record, 1);
    if (!path.session.send(record)) {
      peer.drops.send_failed++;
      return;
    }
    peer.packetsOut++;
    peer.bytesOut += frame.length;
    peer.lastSentAt = now;
  }

  /** One authenticated record from a peer of ours that is not a control record. */
  receive(peer: Peer, record: Buffer): void {
    if (record[0] !== FRAME_RECORD || record.length < 1 + ETHERNET_HEADER_BYTES) {
      peer.drops.malformed++;
      return;
    }
    const now = this.clock.now();
    if (record[7] & 1) {
      peer.drops.spoofed_source++;
      return;
    }
    const source = macAt(record, 7);
    const learned = this.macs.get(source);
    if (learned === undefined) {
      if (this.macs.size < this.limits.maxMacs) this.macs.set(source, { peer, seenAt: now });
    } else if (learned.peer === peer) {
      learned.seenAt = now;
    } else if (this.isLive(learned, now)) {
      peer.drops.spoofed_source++;
      return;
    } else {
      learned.peer = peer;
      learned.seenAt = now;
    }
    this.device.write(record.subarray(1));
    peer.packetsIn++;
    peer.bytesIn += record.length - 1;
  }

  private isLive(learned: Learned, now: number): boolean {
    return learned.peer.state === 'established' && now - learned.seenAt < this.limits.macAgeMs;
  }
}

/** The 48-bit MAC address at `offset` as a number (exact in a double). */
function macAt(data: Buffer, offset: number): number {
  return data.readUInt16BE(offset) * 0x1_0000_0000 + data.readUInt32BE(offset + 2);
}
