// A VPN IP in the forms the packet path compares against without allocating: IPv4 as a 32-bit
// number, IPv6 as 16 bytes and a hex route key; plus the checks on an inner packet's header.
import { isIPv4, isIPv6 } from 'node:net';
import { Address6 } from 'ip-address';

export interface VpnAddress {
  /** Canonical text: dotted quad, or RFC 5952 IPv6. */
  text: string;
  family: 4 | 6;
  /** The IPv4 address as an unsigned 32-bit number; 0 for IPv6. */
  v4: number;
  /** The IPv6 address bytes; empty for IPv4. */
  v6: Buffer;
}

const NO_BYTES = Buffer.alloc(0);

/** Parses a VPN IP (no prefix length); null when it is not an IP address. */
export function parseVpnAddress(text: string): VpnAddress | null {
  if (isIPv4(text)) {
    const v4 = text.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
    return { text: text.split('.').map(Number).join('.'), family: 4, v4, v6: NO_BYTES };
  }
  if (isIPv6(text)) {
    const address = new Address6(text);
    return { text: address.correctForm(), family: 6, v4: 0, v6: Buffer.from(address.toUnsignedByteArray()) };
  }
  return null;
}

/** The IP version of a packet read from TUN or opened from a record; 0 when too short to say. */
export function ipVersion(packet: Uint8Array): number {
  return packet.length === 0 ? 0 : packet[0] >> 4;
}

export const IPV4_HEADER_BYTES = 20;
export const IPV6_HEADER_BYTES = 40;

/** Whether the packet's source address is exactly `address` (callers checked the header length). */
export function sourceIs(packet: Buffer, address: VpnAddress): boolean {
  if (address.family === 4) return packet[0] >> 4 === 4 && packet.readUInt32BE(12) === address.v4;
  return packet[0] >> 4 === 6 && packet.compare(address.v6, 0, 16, 8, 24) === 0;
}

/** An IPv6 address's last 32 bits: the bucket its routes live in (see PeerStore.route6). */
export function tail6(address: VpnAddress): number {
  return address.v6.readUInt32BE(12);
}

/** The address as 4 or 16 network-order bytes. */
export function vpnAddressBytes(address: VpnAddress): Buffer {
  if (address.family === 6) return Buffer.from(address.v6);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(address.v4);
  return bytes;
}

/** The address held in 4 or 16 network-order bytes; null for any other length. */
export function vpnAddressFromBytes(bytes: Uint8Array): VpnAddress | null {
  if (bytes.length === 4) return parseVpnAddress(Array.from(bytes).join('.'));
  if (bytes.length === 16) return parseVpnAddress(Buffer.from(bytes).toString('hex').replace(/(.{4})(?!$)/g, '$1:'));
  return null;
}
