// The packet-device seam: a TUN device (or an in-memory fake) that yields and accepts whole IP packets.
import type { WriteHandover } from '../dtls/index';

/**
 * The largest packet a route to one peer may carry above the device MTU (member/path-mtu.ts): an
 * Ethernet payload, since the records carrying it must fit an Ethernet-sized underlay. A device
 * reads and writes packets up to the larger of this and its MTU.
 */
export const PEER_MTU_CEILING = 1500;

export type PacketsHandler = (packets: readonly Buffer[]) => void;

/**
 * The native send path (native/fast-send.h): packets read for an armed peer's VPN address are
 * sealed and sent without JavaScript; only the rest reach the packets handler. Only a real TUN
 * device has one.
 */
export interface NativeSend {
  /** The UDP socket records leave through, or -1 to stop (disarm every peer first). */
  attachSocket(fd: number): void;
  /** False when native code cannot take the session (suite): it stays JavaScript's. */
  arm(vpn: Uint8Array, sockaddr: Buffer, write: WriteHandover, maxPacketBytes: number): boolean;
  /** Stops sealing for `vpn`; its next write sequence number, or null when not armed. */
  disarm(vpn: Uint8Array): number | null;
  /** The next write sequence number of an armed peer, taken for a record sealed in JavaScript; null when not armed. */
  takeSequence(vpn: Uint8Array): number | null;
  /** Packets and bytes sealed natively for one armed peer so far. */
  sessionCounters(vpn: Uint8Array): { packets: number; bytes: number };
  /** Records that left, ones the kernel refused, and the number of armed peers. */
  counters(): NativeSendCounters;
}

export interface NativeSendCounters {
  sent: number;
  refused: number;
  armed: number;
  /** The errno with which the kernel stopped UDP GSO for the native send path; 0 while GSO works. */
  gsoRefusedErrno: number;
}

export interface PacketDevice {
  readonly name: string;
  readonly mtu: number;
  /**
   * Kernel offloads in use ("tso4", "gro", ...) and why any asked for is missing, for status;
   * absent on devices that have none to offer.
   */
  readonly offloads?: { readonly enabled: readonly string[]; readonly problem: string };
  /**
   * The kernel device's descriptor and whether it takes virtio-net headers, for the native receive
   * path that writes packets to it itself; absent on devices without one, null once closed.
   */
  readonly descriptor?: { readonly fd: number; readonly vnet: boolean } | null;
  /** Absent or null where the device has no native send path (in-memory devices, TAP). */
  readonly nativeSend?: NativeSend | null;
  /**
   * One handler at a time, called with a batch of packets read together. The buffers may be
   * reused by the device once the handler returns: copy anything kept longer.
   */
  onPackets(handler: PacketsHandler): void;
  /**
   * Writes one packet; a packet the kernel rejects is counted by the device, not thrown. The device
   * may hold `packet` until the current turn's microtasks have run (to write a batch in one call),
   * so the caller must not reuse it before then.
   */
  write(packet: Uint8Array): void;
  /** Writes several packets in one call where the device can do better than a loop of write(). */
  writeBatch?(packets: readonly Uint8Array[]): void;
  /** Closes the device; idempotent, and no handler call happens after it resolves. */
  close(): Promise<void>;
}
