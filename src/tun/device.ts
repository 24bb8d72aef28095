// The packet-device seam: a TUN device (or an in-memory fake) that yields and accepts whole IP packets.

export type PacketsHandler = (packets: readonly Buffer[]) => void;

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
