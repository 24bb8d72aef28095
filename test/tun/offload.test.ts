// The TUN offload codecs (native/offload.h) on real packets: super-packets as the kernel hands them
// over are cut into packets whose every checksum verifies, and segments coalesce into super-packets
// that cut back into exactly the packets they were made of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { offloadCodec } from '../../src/tun/linux';
import { internetChecksum, PROTOCOL_UDP, tcpPacket, transportPseudoSum, ipv4, ipv6, type TcpSegment } from './packets';

const NEEDS_CSUM = 1;
const GSO_NONE = 0;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_UDP_L4 = 5;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const CWR = 0x80;
const CAPACITY = 1600;
/** A timestamp option (with two NOPs), as Linux puts on every segment. */
const TIMESTAMPS = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);

interface VnetHeader {
  flags: number;
  gsoType: number;
  headerLength: number;
  gsoSize: number;
  checksumStart: number;
  checksumOffset: number;
}

function vnetHeader(header: VnetHeader): Buffer {
  const bytes = Buffer.alloc(10);
  bytes[0] = header.flags;
  bytes[1] = header.gsoType;
  bytes.writeUInt16LE(header.headerLength, 2);
  bytes.writeUInt16LE(header.gsoSize, 4);
  bytes.writeUInt16LE(header.checksumStart, 6);
  bytes.writeUInt16LE(header.checksumOffset, 8);
  return bytes;
}

function readVnetHeader(bytes: Buffer): VnetHeader {
  return {
    flags: bytes[0],
    gsoType: bytes[1],
    headerLength: bytes.readUInt16LE(2),
    gsoSize: bytes.readUInt16LE(4),
    checksumStart: bytes.readUInt16LE(6),
    checksumOffset: bytes.readUInt16LE(8),
  };
}

const ipHeaderLength = (packet: Buffer): number => (packet[0] >> 4 === 4 ? (packet[0] & 0x0f) * 4 : 40);

/** As the kernel hands a packet over with checksum offload: the transport checksum holds only the pseudo-header sum. */
function withPartialChecksum(packet: Buffer, checksumOffset: number): Buffer {
  const partial = Buffer.from(packet);
  const start = ipHeaderLength(partial);
  partial.writeUInt16BE(transportPseudoSum(partial, partial.length - start), start + checksumOffset);
  return partial;
}

function assertChecksumsValid(packet: Buffer): void {
  const start = ipHeaderLength(packet);
  if (packet[0] >> 4 === 4) {
    assert.equal(internetChecksum(packet.subarray(0, start)), 0, 'IPv4 header checksum');
    assert.equal(packet.readUInt16BE(2), packet.length, 'IPv4 total length');
  } else {
    assert.equal(packet.readUInt16BE(4) + 40, packet.length, 'IPv6 payload length');
  }
  assert.equal(internetChecksum(packet.subarray(start), transportPseudoSum(packet, packet.length - start)), 0, 'transport checksum');
}

const tcpAt = (packet: Buffer): Buffer => packet.subarray(ipHeaderLength(packet));
const tcpPayload = (packet: Buffer): Buffer => tcpAt(packet).subarray((tcpAt(packet)[12] >> 4) * 4);

function pattern(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, index) => (index * 7 + 3) & 0xff));
}

for (const [family, source, destination, gsoType] of [
  ['IPv4', '10.7.0.1', '10.7.0.2', GSO_TCPV4],
  ['IPv6', 'fd07::1', 'fd07::2', GSO_TCPV6],
] as const) {
  test(`a TCP super-packet over ${family} is cut into MSS-sized segments with fixed headers and valid checksums`, () => {
    const data = pattern(3500);
    const segment: TcpSegment = { sourcePort: 40000, destinationPort: 5201, sequence: 0xfffff000, ack: 77, flags: ACK | PSH | FIN | CWR, options: TIMESTAMPS, data, id: 0xfffe };
    const whole = withPartialChecksum(tcpPacket(source, destination, segment), 16);
    const start = ipHeaderLength(whole);
    const header = vnetHeader({ flags: NEEDS_CSUM, gsoType, headerLength: start + 32, gsoSize: 1000, checksumStart: start, checksumOffset: 16 });
    const packets = offloadCodec().segment(Buffer.concat([header, whole]), CAPACITY);
    assert.ok(packets);
    assert.deepEqual(packets.map((packet) => tcpPayload(packet).length), [1000, 1000, 1000, 500]);
    packets.forEach((packet, index) => {
      assertChecksumsValid(packet);
      const tcp = tcpAt(packet);
      assert.equal(tcp.readUInt32BE(4), (0xfffff000 + index * 1000) >>> 0, 'sequence number');
      assert.equal(tcp.readUInt32BE(8), 77);
      const last = index === packets.length - 1;
      assert.equal(tcp[13], ACK | (last ? PSH | FIN : 0) | (index === 0 ? CWR : 0), 'flags');
      assert.deepEqual(tcp.subarray(20, 32), TIMESTAMPS);
      if (family === 'IPv4') assert.equal(packet.readUInt16BE(4), (0xfffe + index) & 0xffff, 'IPv4 identification');
    });
    assert.deepEqual(Buffer.concat(packets.map(tcpPayload)), data);
  });
}

test('a UDP super-packet (USO) is cut into datagrams with their own lengths and checksums', () => {
  const data = pattern(2500);
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(5000, 0);
  udp.writeUInt16BE(6000, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  for (const whole of [ipv4('10.7.0.1', '10.7.0.2', PROTOCOL_UDP, udp), ipv6('fd07::1', 'fd07::2', PROTOCOL_UDP, udp)]) {
    const partial = withPartialChecksum(whole, 6);
    const start = ipHeaderLength(partial);
    const header = vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_UDP_L4, headerLength: start + 8, gsoSize: 1200, checksumStart: start, checksumOffset: 6 });
    const packets = offloadCodec().segment(Buffer.concat([header, partial]), CAPACITY);
    assert.ok(packets);
    assert.deepEqual(packets.map((packet) => packet.length - start - 8), [1200, 1200, 100]);
    for (const packet of packets) {
      assertChecksumsValid(packet);
      assert.equal(packet.readUInt16BE(start + 4), packet.length - start, 'UDP length');
    }
    assert.deepEqual(Buffer.concat(packets.map((packet) => packet.subarray(start + 8))), data);
  }
});

test('a plain packet with its checksum left to us comes out whole with the checksum completed', () => {
  const packet = tcpPacket('10.7.0.1', '10.7.0.2', { sourcePort: 1, destinationPort: 2, sequence: 5, ack: 6, flags: ACK, data: pattern(301) });
  const header = vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_NONE, headerLength: 0, gsoSize: 0, checksumStart: 20, checksumOffset: 16 });
  const packets = offloadCodec().segment(Buffer.concat([header, withPartialChecksum(packet, 16)]), CAPACITY);
  assert.deepEqual(packets, [packet]);
  const untouched = vnetHeader({ flags: 0, gsoType: GSO_NONE, headerLength: 0, gsoSize: 0, checksumStart: 0, checksumOffset: 0 });
  assert.deepEqual(offloadCodec().segment(Buffer.concat([untouched, packet]), CAPACITY), [packet]);
});

test('headers that do not describe the packet, and segments over the slot size, are refused', () => {
  const packet = withPartialChecksum(tcpPacket('10.7.0.1', '10.7.0.2', { sourcePort: 1, destinationPort: 2, sequence: 5, ack: 6, flags: ACK, data: pattern(3000) }), 16);
  const refused = (header: Partial<VnetHeader>, capacity = CAPACITY) =>
    offloadCodec().segment(Buffer.concat([vnetHeader({ flags: NEEDS_CSUM, gsoType: GSO_TCPV4, headerLength: 40, gsoSize: 1000, checksumStart: 20, checksumOffset: 16, ...header }), packet]), capacity);
  assert.ok(refused({}));
  assert.equal(refused({ gsoType: 3 }), null, 'UFO is not offered');
  assert.equal(refused({ gsoSize: 0 }), null);
  assert.equal(refused({ checksumStart: 4000 }), null);
  assert.equal(refused({ checksumStart: 10 }), null, 'the transport header inside the IPv4 header');
  assert.equal(refused({ flags: 0 }), null, 'a super-packet always leaves its checksum to us');
  assert.equal(refused({}, 1000), null);
});

test('random bytes behind any virtio header never break the segmenter', () => {
  const codec = offloadCodec();
  for (let i = 0; i < 3000; i++) {
    const header = vnetHeader({
      flags: i % 2,
      gsoType: [GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4][i % 4],
      headerLength: i % 97,
      gsoSize: (i * 37) % 1600,
      checksumStart: (i * 13) % 90,
      checksumOffset: i % 3 === 0 ? 16 : (i * 5) % 70,
    });
    const body = randomBytes(i % 3000);
    if (body.length > 0) body[0] = i % 5 === 0 ? 0x45 : 0x60;
    const packets = codec.segment(Buffer.concat([header, body]), CAPACITY);
    if (packets !== null) for (const packet of packets) assert.ok(packet.length < CAPACITY);
  }
});

/** The MSS-sized segments of one flow, as a TCP sender puts them on the wire. */
function flow(source: string, destination: string, sizes: number[], options: { sourcePort?: number; firstSequence?: number; lastFlags?: number } = {}): Buffer[] {
  let sequence = options.firstSequence ?? 1000;
  return sizes.map((size, index) => {
    const last = index === sizes.length - 1;
    const packet = tcpPacket(source, destination, {
      sourcePort: options.sourcePort ?? 40000,
      destinationPort: 5201,
      sequence,
      ack: 99,
      flags: last ? (options.lastFlags ?? ACK) : ACK,
      options: TIMESTAMPS,
      data: pattern(size).fill(index, 0, 1),
      id: 100 + index,
    });
    sequence += size;
    return packet;
  });
}

/** What the kernel does with a coalesced write it resegments: completes the checksum, then cuts. */
function resegment(write: Buffer): Buffer[] {
  const header = readVnetHeader(write);
  if (header.gsoType === GSO_NONE) return [write.subarray(10)];
  const packet = Buffer.from(write.subarray(10));
  assertChecksumsValidAfterCompletion(packet, header);
  const cut = offloadCodec().segment(Buffer.concat([vnetHeader(header), packet]), CAPACITY);
  assert.ok(cut);
  return cut;
}

function assertChecksumsValidAfterCompletion(packet: Buffer, header: VnetHeader): void {
  const start = header.checksumStart;
  const partial = packet.readUInt16BE(start + header.checksumOffset);
  const length = packet.length - start;
  assert.equal(partial, transportPseudoSum(packet, length), 'the TCP checksum holds the pseudo-header sum');
  if (packet[0] >> 4 === 4) assert.equal(internetChecksum(packet.subarray(0, 20)), 0, 'IPv4 header checksum');
}

for (const [family, source, destination] of [
  ['IPv4', '10.7.0.1', '10.7.0.2'],
  ['IPv6', 'fd07::1', 'fd07::2'],
] as const) {
  test(`in-sequence TCP segments over ${family} coalesce into one super-packet that cuts back into them`, () => {
    const segments = flow(source, destination, [1148, 1148, 1148, 1148, 700], { lastFlags: ACK | PSH });
    const writes = offloadCodec().coalesce(segments);
    assert.equal(writes.length, 1);
    const header = readVnetHeader(writes[0]);
    const start = family === 'IPv4' ? 20 : 40;
    assert.deepEqual(header, {
      flags: NEEDS_CSUM,
      gsoType: family === 'IPv4' ? GSO_TCPV4 : GSO_TCPV6,
      headerLength: start + 32,
      gsoSize: 1148,
      checksumStart: start,
      checksumOffset: 16,
    });
    assert.deepEqual(resegment(writes[0]), segments);
  });
}

test('coalescing keeps flows apart and leaves alone what it must not merge, in arrival order', () => {
  const a = flow('10.7.0.1', '10.7.0.2', [1000, 1000, 1000, 1000]);
  const b = flow('10.7.0.3', '10.7.0.2', [1000, 1000, 1000], { sourcePort: 41000 });
  const pureAck = tcpPacket('10.7.0.2', '10.7.0.1', { sourcePort: 5201, destinationPort: 40000, sequence: 1, ack: 5000, flags: ACK, data: Buffer.alloc(0) });
  const notTcp = ipv4('10.7.0.1', '10.7.0.2', PROTOCOL_UDP, Buffer.alloc(40));
  const corrupt = Buffer.from(b[2]);
  corrupt[corrupt.length - 1] ^= 0xff;
  const writes = offloadCodec().coalesce([a[0], b[0], a[1], pureAck, b[1], a[2], notTcp, corrupt, a[3]]);
  const kinds = writes.map((write) => readVnetHeader(write).gsoType);
  assert.deepEqual(kinds, [GSO_TCPV4, GSO_TCPV4, GSO_NONE, GSO_NONE, GSO_NONE]);
  assert.deepEqual(resegment(writes[0]), a);
  assert.deepEqual(resegment(writes[1]), b.slice(0, 2));
  assert.deepEqual(writes.slice(2).map((write) => write.subarray(10)), [pureAck, notTcp, corrupt]);
});

test('a group ends at PSH, at a shorter payload and at a gap in the sequence', () => {
  const pushed = flow('10.7.0.1', '10.7.0.2', [1000, 1000], { lastFlags: ACK | PSH });
  const after = flow('10.7.0.1', '10.7.0.2', [1000, 1000], { firstSequence: 3000 });
  const short = flow('10.7.0.1', '10.7.0.2', [1000, 500, 1000, 1000], { firstSequence: 6000 });
  const gap = flow('10.7.0.1', '10.7.0.2', [1000, 1000], { firstSequence: 90000 });
  const writes = offloadCodec().coalesce([...pushed, ...after, ...short, ...gap]);
  const counts = writes.map((write) => resegment(write).length);
  assert.deepEqual(counts, [2, 2, 2, 2, 2]);
  assert.deepEqual(writes.flatMap(resegment), [...pushed, ...after, ...short, ...gap]);
});

test('a super-packet stops short of 64 KiB and the next group carries on', () => {
  const segments = flow('10.7.0.1', '10.7.0.2', Array.from({ length: 60 }, () => 1400));
  const writes = offloadCodec().coalesce(segments);
  assert.ok(writes.length >= 2);
  for (const write of writes) assert.ok(write.length - 10 <= 65535);
  assert.deepEqual(writes.flatMap(resegment), segments);
});

/** A packet with its IPv4 identification and header checksum zeroed: coalescing renumbers those. */
function withoutIdentification(packet: Buffer): string {
  const copy = Buffer.from(packet);
  if (copy.length >= 20 && copy[0] === 0x45) copy.fill(0, 4, 6).fill(0, 10, 12);
  return copy.toString('hex');
}

test('random batches never break the coalescer and every packet comes out once', () => {
  const codec = offloadCodec();
  const segments = flow('10.7.0.1', '10.7.0.2', [600, 600, 600, 600, 300]);
  for (let round = 0; round < 300; round++) {
    const packets = Array.from({ length: 1 + (round % 40) }, (_, index) =>
      (round + index) % 3 === 0 ? randomBytes(1 + ((round * 31 + index) % 200)) : segments[(round * 7 + index) % segments.length],
    );
    const out = codec.coalesce(packets).flatMap(resegment);
    assert.deepEqual(out.map(withoutIdentification).sort(), packets.map(withoutIdentification).sort());
  }
});
