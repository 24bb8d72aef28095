// An IP prefix (a route such as 10.1.0.0/16 or fd00:1::/48) as network-address bytes and a
// length: parsed from text, compared for overlap, and matched against an address inside a packet.
import { isIPv4, isIPv6 } from 'node:net';
import { parseVpnAddress, vpnAddressBytes, vpnAddressFromBytes, type VpnAddress } from './vpn-address';

export interface IpPrefix {
  family: 4 | 6;
  /** The network address, host bits zero: 4 or 16 bytes. */
  bytes: Buffer;
  length: number;
  /** Canonical "10.1.0.0/16". */
  text: string;
}

/** Parses "ADDRESS/LENGTH"; a string saying what is wrong when it is not a prefix or has host bits set. */
export function parsePrefix(text: string): IpPrefix | string {
  const match = /^([^/]+)\/([0-9]{1,3})$/.exec(text.trim());
  if (!match || !(isIPv4(match[1]) || isIPv6(match[1]))) return `"${text}" is not an address with a prefix length, like 10.1.0.0/16 or fd00:1::/48`;
  const address = parseVpnAddress(match[1])!;
  const length = Number(match[2]);
  const bytes = vpnAddressBytes(address);
  if (length > bytes.length * 8) return `"${text}" has a prefix length over ${bytes.length * 8}`;
  const masked = mask(bytes, length);
  if (!masked.equals(bytes)) return `"${text}" has host bits set; the network is ${prefixText(masked, length)}`;
  return { family: address.family, bytes: masked, length, text: prefixText(masked, length) };
}

/** Builds a prefix from raw bytes (as a control record carries them); null if the bytes are not a network address. */
export function prefixFromBytes(bytes: Buffer, length: number): IpPrefix | null {
  if ((bytes.length !== 4 && bytes.length !== 16) || length > bytes.length * 8) return null;
  if (!mask(bytes, length).equals(bytes)) return null;
  const family = bytes.length === 4 ? 4 : 6;
  return { family, bytes: Buffer.from(bytes), length, text: prefixText(bytes, length) };
}

/** The prefix of `length` bits holding `address` (a VPN subnet from its member's address). */
export function prefixOfAddress(address: VpnAddress, length: number): IpPrefix {
  const bytes = mask(vpnAddressBytes(address), length);
  return { family: address.family, bytes, length, text: prefixText(bytes, length) };
}

/** Whether two prefixes share any address (one contains the other). */
export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.length, b.length);
  return mask(a.bytes, shorter).equals(mask(b.bytes, shorter));
}

/** Whether the address at `offset` of `data` (4 or 16 bytes, the prefix's family) lies in the prefix. */
export function prefixContains(prefix: IpPrefix, data: Uint8Array, offset: number): boolean {
  const whole = prefix.length >> 3;
  for (let i = 0; i < whole; i++) if (data[offset + i] !== prefix.bytes[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const bits = (0xff << (8 - rest)) & 0xff;
  return (data[offset + whole] & bits) === prefix.bytes[whole];
}

function mask(bytes: Buffer, length: number): Buffer {
  const out = Buffer.from(bytes);
  for (let bit = length; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

function prefixText(bytes: Buffer, length: number): string {
  return `${vpnAddressFromBytes(bytes)!.text}/${length}`;
}
