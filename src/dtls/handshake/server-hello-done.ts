// ServerHelloDone (RFC 5246 7.4.5): an empty body that ends the server's hello flight.
import { decodeWith, type Decoded } from './bytes';

export function encodeServerHelloDone(): Buffer {
  return Buffer.alloc(0);
}

export function decodeServerHelloDone(body: Uint8Array): Decoded<Record<string, never>> {
  return decodeWith(body, 'ServerHelloDone', () => ({}));
}
