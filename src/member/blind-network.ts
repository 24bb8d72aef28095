// The keys of a blind network (`--blind`), all derived by HKDF from the PSK and the network name,
// and the three things sealed with them: the name's tag on the wire, each member's voucher (its
// outside endpoint, the time and its LAN endpoints, sealed so the rolodex can neither read nor
// forge it), and the identity hint (our VPN IP, sealed). Pure: bytes in, values or null out.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Endpoint } from '../net/transport';
import { addressBytes, MAX_LOCAL_ENDPOINTS, parseEndpoint } from '../rolodex-wire';

/** A member refreshes its voucher this often, so whatever the rolodex relays is at most this old plus its delay. */
export const VOUCHER_REFRESH_MS = 60_000;
/**
 * Members' clocks may disagree by this much (NTP keeps them within a second): a voucher dated up
 * to this far in the future is fresh, and this much is added to the age a voucher may reach.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** A voucher older than this is refused: a replay of an old entry goes nowhere. */
export const VOUCHER_MAX_AGE_MS = 2 * VOUCHER_REFRESH_MS + MAX_CLOCK_SKEW_MS;

const SALT = Buffer.from('meshboi blind network v1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const VOUCHER_AAD = Buffer.from('meshboi voucher v1');
const HINT_AAD = Buffer.from('meshboi identity hint v1');

/** What a voucher says: the member's outside endpoint as the rolodex sees it, when, and its LAN endpoints. */
export interface Voucher {
  outside: Endpoint;
  issuedAt: number;
  locals: Endpoint[];
}

export class BlindNetwork {
  /** The network name as the rolodex sees it: 43 URL-safe characters that tell nothing without the PSK. */
  readonly tag: string;
  private readonly voucherKey: Buffer;
  private readonly hintKey: Buffer;

  constructor(psk: Buffer, name: string) {
    const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', psk, SALT, Buffer.from(`${label}\0${name}`, 'utf8'), 32));
    this.tag = derive('network tag').toString('base64url');
    this.voucherKey = derive('voucher key');
    this.hintKey = derive('identity hint key');
  }

  /** Seals a voucher: URL-safe base64 of nonce, ciphertext and tag, for the heartbeat's opaque field. */
  sealVoucher(voucher: Voucher): string {
    const parts = [Buffer.alloc(8), encodeEndpoint(voucher.outside), Buffer.of(voucher.locals.length), ...voucher.locals.map(encodeEndpoint)];
    parts[0].writeBigUInt64BE(BigInt(Math.max(0, Math.floor(voucher.issuedAt))));
    return seal(this.voucherKey, VOUCHER_AAD, Buffer.concat(parts)).toString('base64url');
  }

  /**
   * The voucher a map relayed for `outside`, or null unless it opens under our key (so a member of
   * this network sealed it), names that very endpoint, and is fresh at `now`.
   */
  openVoucher(text: string | undefined, outside: Endpoint, now: number): Voucher | null {
    if (text === undefined) return null;
    const plain = open(this.voucherKey, VOUCHER_AAD, Buffer.from(text, 'base64url'));
    if (!plain || plain.length < 9) return null;
    const issuedAt = Number(plain.readBigUInt64BE(0));
    if (issuedAt > now + MAX_CLOCK_SKEW_MS || now - issuedAt > VOUCHER_MAX_AGE_MS) return null;
    let offset = 8;
    const read = (): Endpoint | null => {
      const decoded = decodeEndpoint(plain, offset);
      if (decoded) offset = decoded.next;
      return decoded?.endpoint ?? null;
    };
    const sealedOutside = read();
    if (!sealedOutside || sealedOutside.address !== outside.address || sealedOutside.port !== outside.port) return null;
    const count = plain[offset++];
    if (count === undefined || count > MAX_LOCAL_ENDPOINTS) return null;
    const locals: Endpoint[] = [];
    for (let i = 0; i < count; i++) {
      const local = read();
      if (!local) return null;
      locals.push(local);
    }
    return offset === plain.length ? { outside: sealedOutside, issuedAt, locals } : null;
  }

  /** The identity hint our DTLS server sends: our VPN IP sealed afresh, so it neither tells it nor links two handshakes. */
  sealHint(vpnIp: string): string {
    return seal(this.hintKey, HINT_AAD, Buffer.from(vpnIp, 'utf8')).toString('base64url');
  }

  /** The VPN IP in a server's hint, or null when it was not sealed by a member of this network. */
  openHint(hint: string): string | null {
    return open(this.hintKey, HINT_AAD, Buffer.from(hint, 'base64url'))?.toString('utf8') ?? null;
  }
}

function seal(key: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plain.length });
  const body = cipher.update(plain);
  cipher.final();
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The plaintext, or null when the tag does not verify (the AEAD compares it in constant time). */
function open(key: Buffer, aad: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return null;
  const decipher = createDecipheriv('chacha20-poly1305', key, sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  decipher.setAAD(aad, { plaintextLength: body.length });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const plain = decipher.update(body);
  try {
    decipher.final();
  } catch {
    return null;
  }
  return plain;
}

//   | family (4 or 6) | address (4 or 16 bytes) | port (u16) |
function encodeEndpoint(endpoint: Endpoint): Buffer {
  const bytes = addressBytes(endpoint.address);
  const out = Buffer.alloc(3 + bytes.length);
  out[0] = bytes.length === 4 ? 4 : 6;
  Buffer.from(bytes).copy(out, 1);
  out.writeUInt16BE(endpoint.port, 1 + bytes.length);
  return out;
}

function decodeEndpoint(bytes: Buffer, offset: number): { endpoint: Endpoint; next: number } | null {
  const family = bytes[offset];
  const length = family === 4 ? 4 : family === 6 ? 16 : 0;
  if (length === 0 || offset + 3 + length > bytes.length) return null;
  const address = bytes.subarray(offset + 1, offset + 1 + length);
  const port = bytes.readUInt16BE(offset + 1 + length);
  const text =
    family === 4
      ? `${[...address].join('.')}:${port}`
      : `[${Array.from({ length: 8 }, (_, i) => address.readUInt16BE(2 * i).toString(16)).join(':')}]:${port}`;
  const endpoint = parseEndpoint(text);
  return endpoint ? { endpoint, next: offset + 3 + length } : null;
}
