// A map keyed by remote endpoint that looks up by (address, port) without building a key
// string, because the receive path does one lookup per datagram.
import type { Endpoint } from '../net/transport';

export class EndpointMap<T> {
  private readonly byAddress = new Map<string, Map<number, T>>();
  private count = 0;

  get(address: string, port: number): T | undefined {
    return this.byAddress.get(address)?.get(port);
  }

  set(endpoint: Endpoint, value: T): void {
    let ports = this.byAddress.get(endpoint.address);
    if (!ports) {
      ports = new Map();
      this.byAddress.set(endpoint.address, ports);
    }
    if (!ports.has(endpoint.port)) this.count++;
    ports.set(endpoint.port, value);
  }

  /** Deletes the entry only if it still holds `value` (when given), so a replaced entry survives a late cleanup. */
  delete(endpoint: Endpoint, value?: T): void {
    const ports = this.byAddress.get(endpoint.address);
    if (!ports || !ports.has(endpoint.port)) return;
    if (value !== undefined && ports.get(endpoint.port) !== value) return;
    ports.delete(endpoint.port);
    this.count--;
    if (ports.size === 0) this.byAddress.delete(endpoint.address);
  }

  get size(): number {
    return this.count;
  }

  *values(): IterableIterator<T> {
    for (const ports of this.byAddress.values()) yield* ports.values();
  }
}
