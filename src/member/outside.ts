// The outside path, in the order a datagram meets it:
//   UDP -> demux by remote address (established session; anything else goes to the slow path:
//   handshakes, rolodex maps, hellos) -> open (the DTLS session authenticates and decrypts) ->
//   check the inner source is the peer's VPN IP (or another address or route of it) -> TUN, and
//   the active path's session armed for the native data path (fast-path.ts), which from then
//   on takes its records before they reach JavaScript;
//   a control record between our members (see control-record.ts) goes to its handler instead,
//   and a TAP member's frames to its switch (tap-switch.ts).
// Hot path: no logs, promises, closures or JSON per packet; problems become counters. Only a
// record that authenticated (deliver) may move a peer's active path or liveness clock.
import type { Clock } from '../clock';
import type { DatagramTransport, Endpoint } from '../net/transport';
import type { PacketDevice } from '../tun/device';
import { isControlRecord, type ControlRecords } from './control-record';
import type { FastPath } from './fast-path';
import type { Path } from './peer';
import type { PeerStore } from './peer-store';
import { pathPreference } from './relay-endpoint';
import type { TapSwitch } from './tap-switch';
import { ipVersion, IPV4_HEADER_BYTES, IPV6_HEADER_BYTES, sourceIs } from './vpn-address';

const APPLICATION_DATA = 23;

/** Everything that is not application data on an established session: handshakes, maps, hellos, alerts. */
export type SlowPath = (data: Buffer, from: Endpoint, established: Path | undefined) => void;

export class Outside {
  constructor(
    private readonly store: PeerStore,
    private readonly device: PacketDevice,
    private readonly clock: Clock,
    private readonly slowPath: SlowPath,
    private readonly control: ControlRecords,
    /** A TAP member's switch: every other record is an Ethernet frame for it. */
    private readonly frames: TapSwitch | null = null,
    private readonly fast: FastPath | null = null,
  ) {}

  attach(transport: DatagramTransport): void {
    transport.onMessage(this.receive);
  }

  private readonly receive = (data: Buffer, from: Endpoint): void => {
    const path = this.store.established.get(from.address, from.port);
    if (path !== undefined && data.length > 0 && data[0] === APPLICATION_DATA) {
      path.session.handleDatagram(data);
      return;
    }
    this.slowPath(data, from, path);
  };

  /**
   * One authenticated application_data record from `path` (the session's onData). An empty
   * record is a meshboi keepalive: it proves the peer alive and never reaches TUN.
   */
  deliver(path: Path, plaintext: Buffer): void {
    const peer = path.peer;
    if (peer === null || peer.vpn === null) return;
    if (peer.active !== path) {
      if (!peer.standby.has(path)) return;
      // A late record through a relay never moves a peer back onto it from a better path.
      if (peer.active === null || pathPreference(path.remote) >= pathPreference(peer.active.remote)) this.store.roam(peer, path);
    }
    const now = this.clock.now();
    peer.lastAuthenticatedAt = now;
    path.lastAuthenticatedAt = now;
    if (plaintext.length === 0) return;
    if (isControlRecord(plaintext)) {
      if (peer.kind === 'meshboi') this.control.receive(peer, plaintext);
      else peer.drops.malformed++;
      return;
    }
    if (this.frames !== null) {
      this.frames.receive(peer, plaintext);
      return;
    }
    const version = ipVersion(plaintext);
    const headerBytes = version === 4 ? IPV4_HEADER_BYTES : version === 6 ? IPV6_HEADER_BYTES : Infinity;
    if (plaintext.length < headerBytes) {
      peer.drops.malformed++;
      return;
    }
    if (!sourceIs(plaintext, peer.vpn) && !this.store.sourceAllowed(peer, plaintext)) {
      peer.drops.spoofed_source++;
      return;
    }
    this.device.write(plaintext);
    peer.packetsIn++;
    peer.bytesIn += plaintext.length;
    if (path.native === 'off' && this.fast !== null) this.fast.arm(path);
  }
}
