// An in-memory PacketDevice for tests of everything above the TUN device: the test injects
// packets as if the kernel had routed them, and reads what the member wrote back.
import type { PacketDevice, PacketsHandler } from './device';

export class ChannelDevice implements PacketDevice {
  private handler: PacketsHandler = () => {};
  private closed = false;
  /** Packets the member wrote to the "kernel", oldest first. */
  readonly written: Buffer[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly name = 'fake0', readonly mtu = 1200) {}

  onPackets(handler: PacketsHandler): void {
    this.handler = handler;
  }

  /** Simulates the kernel routing packets into the device. */
  inject(...packets: Buffer[]): void {
    if (!this.closed) this.handler(packets);
  }

  write(packet: Uint8Array): void {
    if (this.closed) return;
    this.written.push(Buffer.from(packet));
    for (const wake of this.waiters.splice(0)) wake();
  }

  writeBatch(packets: readonly Uint8Array[]): void {
    for (const packet of packets) this.write(packet);
  }

  /** Resolves once at least `count` packets have been written. */
  async waitForWritten(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.written.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} packets written, got ${this.written.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
