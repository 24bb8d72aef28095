// The inside path, in the order a packet meets it:
//   TUN (a batch of packets) -> route by destination IPv4/IPv6 address (then by the routes
//   accepted from peers, longest prefix first) -> the peer's active session -> seal (one
//   application_data record per packet) -> UDP. A TAP member uses tap-switch.ts instead.
// Hot path: no logs, promises, closures or JSON per packet; problems become counters.
import type { Clock } from '../clock';
import type { PacketDevice } from '../tun/device';
import type { PeerStore } from './peer-store';
import type { Peer } from './peer';
import { ipVersion, IPV4_HEADER_BYTES, IPV6_HEADER_BYTES } from './vpn-address';

/** Member-wide drops on the way out, for packets no peer can be charged with. */
export interface InsideDrops {
  /** No peer holds the destination address. */
  no_route: number;
  /** Too short, or neither IPv4 nor IPv6. */
  malformed: number;
}

export class Inside {
  readonly drops: InsideDrops = { no_route: 0, malformed: 0 };

  constructor(
    private readonly store: PeerStore,
    private readonly clock: Clock,
  ) {}

  /** Reads every batch the device delivers; bound once so no closure is made per batch. */
  attach(device: PacketDevice): void {
    device.onPackets(this.sendBatch);
  }

  private readonly sendBatch = (packets: readonly Buffer[]): void => {
    const now = this.clock.now();
    for (let i = 0; i < packets.length; i++) this.send(packets[i], now);
  };

  private send(packet: Buffer, now: number): void {
    const peer = this.route(packet);
    if (peer === undefined) return;
    const path = peer.active;
    if (path === null) {
      peer.drops.not_established++;
      return;
    }
    if (packet.length > peer.maxPacketBytes) {
      peer.drops.too_large_for_peer++;
      return;
    }
    if (!path.session.send(packet)) {
      peer.drops.send_failed++;
      return;
    }
    peer.packetsOut++;
    peer.bytesOut += packet.length;
    peer.lastSentAt = now;
  }

  private route(packet: Buffer): Peer | undefined {
    const version = ipVersion(packet);
    let peer: Peer | undefined;
    if (version === 4 && packet.length >= IPV4_HEADER_BYTES) peer = this.store.routes4.get(packet.readUInt32BE(16));
    else if (version === 6 && packet.length >= IPV6_HEADER_BYTES) peer = this.store.route6(packet);
    else {
      this.drops.malformed++;
      return undefined;
    }
    if (peer === undefined && this.store.prefixRoutes.length > 0) peer = this.store.routeByPrefix(packet);
    if (peer === undefined) this.drops.no_route++;
    return peer;
  }
}
