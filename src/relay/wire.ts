// The relay codec (docs/relays.md): the frames our members exchange with a relay inside their DTLS
// session with it. Pure: bytes in, a frame or a typed RelayCodecError out. A frame is a control
// record of the member: its first byte is below 0x10, so it never passes for an IP packet.
import { isIPv4, isIPv6 } from 'node:net';
import { Address6 } from 'ip-address';
import type { Endpoint } from '../net/transport';

/**
 * - `forward`: member to relay, "send `payload` to the member listed at `peer`".
 * - `deliver`: relay to member, "`payload` came from the member listed at `peer`".
 * - `offer`: a relay tells a member of its network that it relays.
 * - `ping` / `pong`: a member checks a relay is alive, faster than dead-peer detection would.
 * - `punch`: end to end between two members whose session runs through a relay (the relay only
 *   carries it): "I start a direct punching round now", so both sides open their NATs together.
 */
export type RelayFrame =
  | { type: 'forward'; peer: Endpoint; payload: Buffer }
  | { type: 'deliver'; peer: Endpoint; payload: Buffer }
  | { type: 'offer' }
  | { type: 'ping'; nonce: number }
  | { type: 'pong'; nonce: number }
  | { type: 'punch' };

/**
 * Control record types of the member (control-record.ts: below 0x10, never an IP packet's first
 * byte); 0x01 is peer-info's. Whoever receives a frame from us is one of our members.
 */
const TYPE_CODES = { forward: 0x08, deliver: 0x09, offer: 0x0a, ping: 0x0b, pong: 0x0c, punch: 0x0d } as const;

/** The first bytes of relay frames, for the member's control record dispatch. */
export const RELAY_FRAME_TYPES: readonly number[] = Object.values(TYPE_CODES);
const FAMILY_4 = 4;
const FAMILY_6 = 6;

/** A frame's header before the payload: type, family, address, port. At most 20 bytes (IPv6). */
export const MAX_HEADER_BYTES = 1 + 1 + 16 + 2;

export class RelayCodecError extends Error {
  override readonly name = 'RelayCodecError';
}

export function encodeRelayFrame(frame: RelayFrame): Buffer {
  switch (frame.type) {
    case 'offer':
    case 'punch':
      return Buffer.of(TYPE_CODES[frame.type]);
    case 'ping':
    case 'pong': {
      const out = Buffer.alloc(5);
      out[0] = TYPE_CODES[frame.type];
      out.writeUInt32BE(frame.nonce >>> 0, 1);
      return out;
    }
    case 'forward':
    case 'deliver': {
      const peer = encodeEndpoint(frame.peer);
      const out = Buffer.alloc(1 + peer.length + frame.payload.length);
      out[0] = TYPE_CODES[frame.type];
      peer.copy(out, 1);
      frame.payload.copy(out, 1 + peer.length);
      return out;
    }
  }
}

/** Decodes one frame; the payload is a view into `data` (copy it to keep it past the caller's turn). */
export function decodeRelayFrame(data: Buffer): RelayFrame {
  if (data.length === 0) throw new RelayCodecError('empty relay frame');
  const code = data[0];
  switch (code) {
    case TYPE_CODES.offer:
    case TYPE_CODES.punch: {
      const type = code === TYPE_CODES.offer ? 'offer' : 'punch';
      if (data.length !== 1) throw new RelayCodecError(`${type} frame of ${data.length} bytes, expected 1`);
      return { type };
    }
    case TYPE_CODES.ping:
    case TYPE_CODES.pong:
      if (data.length !== 5) throw new RelayCodecError(`ping or pong frame of ${data.length} bytes, expected 5`);
      return { type: code === TYPE_CODES.ping ? 'ping' : 'pong', nonce: data.readUInt32BE(1) };
    case TYPE_CODES.forward:
    case TYPE_CODES.deliver: {
      const { endpoint: peer, end } = decodeEndpoint(data, 1);
      const payload = data.subarray(end);
      return code === TYPE_CODES.forward ? { type: 'forward', peer, payload } : { type: 'deliver', peer, payload };
    }
    default:
      throw new RelayCodecError(`unknown relay frame type 0x${code.toString(16).padStart(2, '0')}`);
  }
}

/**
 * An endpoint as a frame carries it: family (4 or 6), address (4 or 16 bytes), port (16 bits).
 * Shared with the rolodex's relay frames (rolodex-frame.ts).
 */
export function encodeEndpoint(endpoint: Endpoint): Buffer {
  const address = addressBytes(endpoint.address);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    throw new RelayCodecError(`port ${endpoint.port} is not between 1 and 65535`);
  }
  const out = Buffer.alloc(1 + address.length + 2);
  out[0] = address.length === 4 ? FAMILY_4 : FAMILY_6;
  address.copy(out, 1);
  out.writeUInt16BE(endpoint.port, 1 + address.length);
  return out;
}

/** The endpoint encoded at `offset`, and where it ends; a RelayCodecError when cut short or invalid. */
export function decodeEndpoint(data: Buffer, offset: number): { endpoint: Endpoint; end: number } {
  if (data.length < offset + 1) throw new RelayCodecError('relay frame cut short before its address family');
  const family = data[offset];
  if (family !== FAMILY_4 && family !== FAMILY_6) throw new RelayCodecError(`unknown address family ${family}`);
  const addressLength = family === FAMILY_4 ? 4 : 16;
  const end = offset + 1 + addressLength + 2;
  if (data.length < end) throw new RelayCodecError(`relay frame of ${data.length} bytes cut short in its address`);
  const port = data.readUInt16BE(end - 2);
  if (port === 0) throw new RelayCodecError('relay frame names port 0');
  return { endpoint: { address: addressText(data.subarray(offset + 1, end - 2)), port }, end };
}

function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new RelayCodecError(`"${address}" is not an IP address`);
  // The library drops leading zero bytes (it goes through a big integer): pad back to 16.
  const bytes = new Address6(address).toUnsignedByteArray();
  const out = Buffer.alloc(16);
  Buffer.from(bytes).copy(out, 16 - bytes.length);
  return out;
}

/** Dotted quad, or the RFC 5952 form the member's keys use (as sockets report IPv6 senders). */
function addressText(bytes: Buffer): string {
  return bytes.length === 4 ? [...bytes].join('.') : Address6.fromUnsignedByteArray([...bytes]).correctForm();
}
