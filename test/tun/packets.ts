// Builds and reads the few packets the TUN tests and benchmark exchange with the kernel: IPv4 and
// IPv6 ICMP echo, IPv4 UDP, TCP segments, Ethernet frames and ARP, with real checksums.
import { Address4, Address6 } from 'ip-address';

export const PROTOCOL_ICMP = 1;
export const PROTOCOL_TCP = 6;
export const PROTOCOL_UDP = 17;
export const PROTOCOL_ICMPV6 = 58;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export function addressBytes(address: string): Buffer {
  const bytes = address.includes(':') ? new Address6(address).toUnsignedByteArray() : new Address4(address).toArray();
  const size = address.includes(':') ? 16 : 4;
  return Buffer.concat([Buffer.alloc(size - bytes.length), Buffer.from(bytes)]);
}

export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  return Address6.fromUnsignedByteArray(Array.from(bytes)).correctForm();
}

/** RFC 1071 ones' complement sum, folded; `partial` carries a pseudo-header sum in. */
export function internetChecksum(data: Uint8Array, partial = 0): number {
  let sum = partial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (data.length % 2 === 1) sum += data[data.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4(source: string, destination: string, protocol: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 0x45;
  header.writeUInt16BE(20 + payload.length, 2);
  header.writeUInt16BE(0x4000, 6); // don't fragment
  header[8] = 64;
  header[9] = protocol;
  addressBytes(source).copy(header, 12);
  addressBytes(destination).copy(header, 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

export function ipv6(source: string, destination: string, nextHeader: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x60000000, 0);
  header.writeUInt16BE(payload.length, 4);
  header[6] = nextHeader;
  header[7] = 64;
  addressBytes(source).copy(header, 8);
  addressBytes(destination).copy(header, 24);
  return Buffer.concat([header, payload]);
}

/** The IPv6 pseudo-header sum that ICMPv6 checksums cover (RFC 8200 section 8.1), not yet folded. */
export function pseudoHeaderSum(source: Uint8Array, destination: Uint8Array, length: number, nextHeader: number): number {
  const pseudo = Buffer.alloc(40);
  pseudo.set(source, 0);
  pseudo.set(destination, 16);
  pseudo.writeUInt32BE(length, 32);
  pseudo[39] = nextHeader;
  return ~internetChecksum(pseudo) & 0xffff;
}

export interface Echo {
  reply?: boolean;
  identifier: number;
  sequence: number;
  data: Uint8Array;
}

/** A whole ICMP (IPv4 addresses) or ICMPv6 (IPv6 addresses) echo packet. */
export function icmpEcho(source: string, destination: string, echo: Echo): Buffer {
  const v6 = source.includes(':');
  const message = Buffer.alloc(8 + echo.data.length);
  message[0] = v6 ? (echo.reply ? 129 : 128) : echo.reply ? 0 : 8;
  message.writeUInt16BE(echo.identifier, 4);
  message.writeUInt16BE(echo.sequence, 6);
  message.set(echo.data, 8);
  if (!v6) {
    message.writeUInt16BE(internetChecksum(message), 2);
    return ipv4(source, destination, PROTOCOL_ICMP, message);
  }
  const partial = pseudoHeaderSum(addressBytes(source), addressBytes(destination), message.length, PROTOCOL_ICMPV6);
  message.writeUInt16BE(internetChecksum(message, partial), 2);
  return ipv6(source, destination, PROTOCOL_ICMPV6, message);
}

/** An IPv4 UDP packet; the UDP checksum is left 0, which IPv4 allows. */
export function udp4(source: string, destination: string, sourcePort: number, destinationPort: number, data: Uint8Array): Buffer {
  const datagram = Buffer.alloc(8 + data.length);
  datagram.writeUInt16BE(sourcePort, 0);
  datagram.writeUInt16BE(destinationPort, 2);
  datagram.writeUInt16BE(datagram.length, 4);
  datagram.set(data, 8);
  return ipv4(source, destination, PROTOCOL_UDP, datagram);
}

/** The IPv4 pseudo-header sum (RFC 793), not yet folded. */
export function pseudoHeaderSum4(source: Uint8Array, destination: Uint8Array, length: number, protocol: number): number {
  const pseudo = Buffer.alloc(12);
  pseudo.set(source, 0);
  pseudo.set(destination, 4);
  pseudo[9] = protocol;
  pseudo.writeUInt16BE(length, 10);
  return ~internetChecksum(pseudo) & 0xffff;
}

/** The pseudo-header sum for the transport payload of an IPv4 or IPv6 packet without options. */
export function transportPseudoSum(packet: Uint8Array, transportLength: number): number {
  return packet[0] >> 4 === 4
    ? pseudoHeaderSum4(packet.subarray(12, 16), packet.subarray(16, 20), transportLength, packet[9])
    : pseudoHeaderSum(packet.subarray(8, 24), packet.subarray(24, 40), transportLength, packet[6]);
}

export interface TcpSegment {
  sourcePort: number;
  destinationPort: number;
  sequence: number;
  ack: number;
  /** TCP flags byte: 0x10 ACK, 0x08 PSH, 0x01 FIN, 0x80 CWR. */
  flags: number;
  /** Options, a multiple of 4 bytes. */
  options?: Uint8Array;
  data: Uint8Array;
  /** IPv4 identification. */
  id?: number;
}

/** A whole TCP segment in IPv4 or IPv6 (by the address family) with valid checksums. */
export function tcpPacket(source: string, destination: string, segment: TcpSegment): Buffer {
  const options = segment.options ?? new Uint8Array(0);
  const tcp = Buffer.alloc(20 + options.length + segment.data.length);
  tcp.writeUInt16BE(segment.sourcePort, 0);
  tcp.writeUInt16BE(segment.destinationPort, 2);
  tcp.writeUInt32BE(segment.sequence >>> 0, 4);
  tcp.writeUInt32BE(segment.ack >>> 0, 8);
  tcp[12] = ((20 + options.length) / 4) << 4;
  tcp[13] = segment.flags;
  tcp.writeUInt16BE(64240, 14);
  tcp.set(options, 20);
  tcp.set(segment.data, 20 + options.length);
  const packet = source.includes(':') ? ipv6(source, destination, PROTOCOL_TCP, tcp) : ipv4(source, destination, PROTOCOL_TCP, tcp);
  if (!source.includes(':') && segment.id !== undefined) {
    packet.writeUInt16BE(segment.id, 4);
    packet.writeUInt16BE(0, 10);
    packet.writeUInt16BE(internetChecksum(packet.subarray(0, 20)), 10);
  }
  const offset = source.includes(':') ? 40 : 20;
  packet.writeUInt16BE(internetChecksum(packet.subarray(offset), transportPseudoSum(packet, tcp.length)), offset + 16);
  return packet;
}

export interface IpPacket {
  version: 4 | 6;
  source: string;
  destination: string;
  /** IPv4 protocol or IPv6 next header. */
  protocol: number;
  payload: Buffer;
  /** The IPv4 header checksum and an ICMP or ICMPv6 checksum verify; other payloads count as intact. */
  checksumsValid: boolean;
}

/** Reads an IPv4 or IPv6 packet without options or extension headers; null for anything else. */
export function readIp(packet: Buffer): IpPacket | null {
  const version = packet.length > 0 ? packet[0] >> 4 : 0;
  if (version === 4 && packet.length >= 20) {
    const headerLength = (packet[0] & 0x0f) * 4;
    const payload = packet.subarray(headerLength, packet.readUInt16BE(2));
    const headerValid = internetChecksum(packet.subarray(0, headerLength)) === 0;
    const payloadValid = packet[9] !== PROTOCOL_ICMP || internetChecksum(payload) === 0;
    return withAddresses(packet, { version, protocol: packet[9], payload, checksumsValid: headerValid && payloadValid }, 12, 4);
  }
  if (version === 6 && packet.length >= 40) {
    const payload = packet.subarray(40, 40 + packet.readUInt16BE(4));
    const partial = pseudoHeaderSum(packet.subarray(8, 24), packet.subarray(24, 40), payload.length, packet[6]);
    const checksumsValid = packet[6] !== PROTOCOL_ICMPV6 || internetChecksum(payload, partial) === 0;
    return withAddresses(packet, { version, protocol: packet[6], payload, checksumsValid }, 8, 16);
  }
  return null;
}

/** Source and destination sit side by side in both IP headers. */
function withAddresses(packet: Buffer, fields: Omit<IpPacket, 'source' | 'destination'>, offset: number, size: number): IpPacket {
  return {
    ...fields,
    source: formatAddress(packet.subarray(offset, offset + size)),
    destination: formatAddress(packet.subarray(offset + size, offset + 2 * size)),
  };
}

/** The echo carried by an IP packet, or null when it is not an ICMP or ICMPv6 echo. */
export function readEcho(packet: IpPacket): Echo | null {
  const { payload } = packet;
  if (payload.length < 8) return null;
  const icmp = packet.version === 4 ? packet.protocol === PROTOCOL_ICMP : packet.protocol === PROTOCOL_ICMPV6;
  const [request, reply] = packet.version === 4 ? [8, 0] : [128, 129];
  if (!icmp || (payload[0] !== request && payload[0] !== reply)) return null;
  return { reply: payload[0] === reply, identifier: payload.readUInt16BE(4), sequence: payload.readUInt16BE(6), data: payload.subarray(8) };
}

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((part) => parseInt(part, 16)));
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(':');
}

export interface EthernetFrame {
  destination: string;
  source: string;
  type: number;
  payload: Buffer;
}

export function readEthernet(frame: Buffer): EthernetFrame | null {
  if (frame.length < 14) return null;
  return {
    destination: formatMac(frame.subarray(0, 6)),
    source: formatMac(frame.subarray(6, 12)),
    type: frame.readUInt16BE(12),
    payload: frame.subarray(14),
  };
}

export function ethernet(destination: string, source: string, type: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(14);
  macBytes(destination).copy(header, 0);
  macBytes(source).copy(header, 6);
  header.writeUInt16BE(type, 12);
  return Buffer.concat([header, payload]);
}

/** An IPv4-over-Ethernet ARP message (RFC 826). */
export interface Arp {
  operation: 'request' | 'reply';
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export function readArp(payload: Buffer): Arp | null {
  // hardware Ethernet (1), protocol IPv4, address lengths 6 and 4
  if (payload.length < 28 || payload.readUInt16BE(0) !== 1 || payload.readUInt16BE(2) !== ETHERTYPE_IPV4) return null;
  const operation = payload.readUInt16BE(6);
  if (operation !== 1 && operation !== 2) return null;
  return {
    operation: operation === 1 ? 'request' : 'reply',
    senderMac: formatMac(payload.subarray(8, 14)),
    senderIp: formatAddress(payload.subarray(14, 18)),
    targetMac: formatMac(payload.subarray(18, 24)),
    targetIp: formatAddress(payload.subarray(24, 28)),
  };
}

export function arp(message: Arp): Buffer {
  const payload = Buffer.alloc(28);
  payload.writeUInt16BE(1, 0);
  payload.writeUInt16BE(ETHERTYPE_IPV4, 2);
  payload[4] = 6;
  payload[5] = 4;
  payload.writeUInt16BE(message.operation === 'request' ? 1 : 2, 6);
  macBytes(message.senderMac).copy(payload, 8);
  addressBytes(message.senderIp).copy(payload, 14);
  macBytes(message.targetMac).copy(payload, 18);
  addressBytes(message.targetIp).copy(payload, 24);
  return payload;
}
