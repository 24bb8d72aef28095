// The frames between our members and a rolodex started with `--relay` (docs/relays.md, "Through
// a rolodex"): plain UDP datagrams on the member's one socket, beside heartbeats and maps, each
// carrying one opaque record of two members' own DTLS session. Pure: bytes in, a frame or a typed
// RelayCodecError out.
//
//    forward (member to rolodex)               deliver (rolodex to member)
//   +------+------+--------+----------+-----+  +------+------+----------+-----+
//   | 0xfb | 0x01 | cookie | endpoint | rec |  | 0xfb | 0x02 | endpoint | rec |
//   +------+------+--------+----------+-----+  +------+------+----------+-----+
//                   12 B     7 or 19 B            endpoint: family (4|6), address, port
//
// `forward` names the member to send to and carries the sender's reachability cookie, so nobody
// who cannot read the rolodex's datagrams at the sender's address can spend its network's budget;
// `deliver` names the member it came from. A deliver frame is the forward frame it answers without
// the cookie and with the other address: never larger than it (12 cookie bytes make up for an IPv6
// address in place of an IPv4 one).
import type { Endpoint } from '../net/transport';
import { decodeEndpoint, encodeEndpoint, RelayCodecError } from './wire';

/**
 * The first byte of every frame: no heartbeat or map (JSON: "{" or whitespace), no DTLS record
 * (content types 20 to 25), no member `hello` (0) starts with it, so neither end confuses a frame
 * with anything else on the socket.
 */
export const ROLODEX_FRAME_MAGIC = 0xfb;
const FORWARD = 0x01;
const DELIVER = 0x02;
/** The reachability cookie's length (rolodex/reachability-cookies.ts). */
export const COOKIE_BYTES = 12;
/** Magic, type, cookie and an IPv6 endpoint: the most a frame adds to its record. */
export const MAX_ROLODEX_FRAME_HEADER_BYTES = 2 + COOKIE_BYTES + 1 + 16 + 2;

export type RolodexFrame =
  | { type: 'forward'; cookie: Buffer; peer: Endpoint; payload: Buffer }
  | { type: 'deliver'; peer: Endpoint; payload: Buffer };

export function encodeRolodexFrame(frame: RolodexFrame): Buffer {
  const peer = encodeEndpoint(frame.peer);
  const cookieBytes = frame.type === 'forward' ? COOKIE_BYTES : 0;
  if (frame.type === 'forward' && frame.cookie.length !== COOKIE_BYTES) {
    throw new RelayCodecError(`a reachability cookie is ${COOKIE_BYTES} bytes, got ${frame.cookie.length}`);
  }
  const out = Buffer.allocUnsafe(2 + cookieBytes + peer.length + frame.payload.length);
  out[0] = ROLODEX_FRAME_MAGIC;
  out[1] = frame.type === 'forward' ? FORWARD : DELIVER;
  if (frame.type === 'forward') frame.cookie.copy(out, 2);
  peer.copy(out, 2 + cookieBytes);
  frame.payload.copy(out, 2 + cookieBytes + peer.length);
  return out;
}

/** The length of the deliver frame carrying `payloadBytes` from `peer`, without making it. */
export function deliverFrameBytes(peer: Endpoint, payloadBytes: number): number {
  return 2 + 1 + (peer.address.includes(':') ? 16 : 4) + 2 + payloadBytes;
}

/** Whether a datagram is meant as a rolodex frame (decode it to know whether it is a valid one). */
export function isRolodexFrame(data: Buffer): boolean {
  return data.length > 0 && data[0] === ROLODEX_FRAME_MAGIC;
}

/** Decodes one frame; cookie and payload are views into `data` (copy them to keep them past the caller's turn). */
export function decodeRolodexFrame(data: Buffer): RolodexFrame {
  if (!isRolodexFrame(data)) throw new RelayCodecError('not a rolodex relay frame: its first byte is not 0xfb');
  if (data.length < 2) throw new RelayCodecError('rolodex relay frame cut short before its type');
  switch (data[1]) {
    case FORWARD: {
      if (data.length < 2 + COOKIE_BYTES) throw new RelayCodecError(`forward frame of ${data.length} bytes cut short in its cookie`);
      const { endpoint: peer, end } = decodeEndpoint(data, 2 + COOKIE_BYTES);
      return { type: 'forward', cookie: data.subarray(2, 2 + COOKIE_BYTES), peer, payload: data.subarray(end) };
    }
    case DELIVER: {
      const { endpoint: peer, end } = decodeEndpoint(data, 2);
      return { type: 'deliver', peer, payload: data.subarray(end) };
    }
    default:
      throw new RelayCodecError(`unknown rolodex relay frame type 0x${data[1].toString(16).padStart(2, '0')}`);
  }
}
