// Cookies that prove a member receives the rolodex's datagrams at the address it sends from: a
// MAC over the endpoint under a secret that rotates, so only whoever reads our datagrams there can
// echo one back. The rolodex keeps no per-cookie state; a cookie stays valid for one to two
// rotations (the current secret or the one before).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { COOKIE_BYTES } from '../src/relay/rolodex-frame';

const SECRET_BYTES = 32;
// COOKIE_BYTES (12) of HMAC-SHA256: guessing one is a 2^-96 chance per try. Our members' relay
// frames carry it as bytes (rolodex-frame.ts).

export class ReachabilityCookies {
  private current = randomBytes(SECRET_BYTES);
  private previous = randomBytes(SECRET_BYTES);
  private rotatedAt: number;

  constructor(private readonly rotateEveryMs: number, now: number) {
    this.rotatedAt = now;
  }

  /** The cookie for `endpointKey` ("ip:port") under the current secret. */
  issue(endpointKey: string, now: number): string {
    this.rotate(now);
    return mac(this.current, endpointKey).toString('base64url');
  }

  /** Whether `cookie` was issued for `endpointKey` under the current or the previous secret. */
  verify(endpointKey: string, cookie: string, now: number): boolean {
    this.rotate(now);
    const presented = Buffer.from(cookie, 'base64url');
    if (presented.length !== COOKIE_BYTES) return false;
    return timingSafeEqual(presented, mac(this.current, endpointKey)) || timingSafeEqual(presented, mac(this.previous, endpointKey));
  }

  private rotate(now: number): void {
    if (now - this.rotatedAt < this.rotateEveryMs) return;
    this.previous = now - this.rotatedAt < 2 * this.rotateEveryMs ? this.current : randomBytes(SECRET_BYTES);
    this.current = randomBytes(SECRET_BYTES);
    this.rotatedAt = now;
  }
}

function mac(secret: Buffer, endpointKey: string): Buffer {
  return createHmac('sha256', secret).update(endpointKey).digest().subarray(0, COOKIE_BYTES);
}
