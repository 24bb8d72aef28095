// TUN offload codecs, without I/O: cuts the super-packets a TUN device with IFF_VNET_HDR hands us
// (TSO, USO) into MTU-sized packets, and coalesces TCP segments of one flow into super-packets for
// the TUN write (GRO in user space). native/tun.cc uses them; test/tun/offload.test.ts checks them
// with real packets through the addon's test entry points.
#pragma once

#include <string.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

// struct virtio_net_hdr and its constants from <linux/virtio_net.h>, which C++ cannot include (a
// member there is named `class`). Fields are in host byte order, as the tun driver uses them.
struct virtio_net_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

namespace offload {

// UDP segmentation offload, which older kernel headers lack (kernel 6.2).
constexpr uint8_t kGsoUdpL4 = 5;
constexpr size_t kVnetHdrLen = sizeof(virtio_net_hdr);
static_assert(kVnetHdrLen == 10, "the virtio-net header is 10 bytes");
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpCwr = 0x80;
constexpr size_t kMaxIpPacket = 65535;
// Segments one coalesced write carries at most; the kernel resegments larger ones just as well,
// but a short group keeps the latency of the first segment low.
constexpr size_t kMaxGroupSegments = 64;

inline uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void Store16(uint8_t* p, uint32_t value) {
  p[0] = static_cast<uint8_t>(value >> 8);
  p[1] = static_cast<uint8_t>(value);
}
inline void Store32(uint8_t* p, uint32_t value) {
  Store16(p, value >> 16);
  Store16(p + 2, value);
}

// The one's complement sum, kept unfolded and in network order: words are read big-endian, so
// the folded result is stored with Store16 as is.
inline uint64_t Sum(const uint8_t* data, size_t length, uint64_t sum = 0) {
  while (length >= 4) {
    sum += Load32(data);
    data += 4;
    length -= 4;
  }
  if (length >= 2) {
    sum += Load16(data);
    data += 2;
    length -= 2;
  }
  if (length == 1) sum += static_cast<uint32_t>(data[0]) << 8;
  return sum;
}

inline uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

struct IpInfo {
  int version;
  // Where the transport header starts, and the offsets of the source and destination addresses.
  size_t l4Offset;
  size_t addressOffset;
  size_t addressLength;
};

// The pseudo-header sum of RFC 793/768 (IPv4) and RFC 8200 8.1 (IPv6) for `l4Length` bytes.
inline uint64_t PseudoHeaderSum(const uint8_t* packet, const IpInfo& ip, uint8_t protocol, size_t l4Length) {
  return Sum(packet + ip.addressOffset, 2 * ip.addressLength, protocol + static_cast<uint64_t>(l4Length));
}

inline void FixIpv4HeaderChecksum(uint8_t* packet, size_t headerLength) {
  Store16(packet + 10, 0);
  Store16(packet + 10, static_cast<uint16_t>(~Fold(Sum(packet, headerLength))));
}

// The packet's IP length fields once it holds `length` bytes.
inline void SetIpLength(uint8_t* packet, const IpInfo& ip, size_t length) {
  if (ip.version == 4) {
    Store16(packet + 2, static_cast<uint32_t>(length));
    FixIpv4HeaderChecksum(packet, ip.l4Offset);
  } else {
    Store16(packet + 4, static_cast<uint32_t>(length - 40));
  }
}

// The IP header in front of a transport header at `l4Offset` (from the virtio header for reads).
inline bool ParseIp(const uint8_t* packet, size_t length, size_t l4Offset, IpInfo* ip) {
  if (length < 20) return false;
  ip->version = packet[0] >> 4;
  if (ip->version == 4) {
    ip->addressOffset = 12;
    ip->addressLength = 4;
    if (l4Offset < static_cast<size_t>(packet[0] & 0x0f) * 4) return false;
  } else if (ip->version == 6) {
    ip->addressOffset = 8;
    ip->addressLength = 16;
    if (length < 40 || l4Offset < 40) return false;
  } else {
    return false;
  }
  ip->l4Offset = l4Offset;
  return l4Offset < length;
}

// Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field already
// holds the pseudo-header sum, so the sum runs from csum_start to the end of the packet.
inline bool CompleteChecksum(uint8_t* packet, size_t length, size_t start, size_t offset) {
  if (start + offset + 2 > length) return false;
  Store16(packet + start + offset, static_cast<uint16_t>(~Fold(Sum(packet + start, length - start))));
  return true;
}

// Cuts one packet read from a TUN device with IFF_VNET_HDR into packets that need no offload.
// sink.Take(length) returns room for one packet of `length` bytes, or nullptr to refuse it.
// Returns the number of packets made, or -1 for a packet the header does not describe.
template <typename Sink>
int Segment(const virtio_net_hdr& hdr, uint8_t* packet, size_t length, Sink& sink) {
  uint8_t gsoType = hdr.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  bool needsChecksum = (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
  if (gsoType == VIRTIO_NET_HDR_GSO_NONE) {
    if (needsChecksum && !CompleteChecksum(packet, length, hdr.csum_start, hdr.csum_offset)) return -1;
    uint8_t* out = sink.Take(length);
    if (out == nullptr) return -1;
    memcpy(out, packet, length);
    return 1;
  }
  bool tcp = gsoType == VIRTIO_NET_HDR_GSO_TCPV4 || gsoType == VIRTIO_NET_HDR_GSO_TCPV6;
  if (!tcp && gsoType != kGsoUdpL4) return -1;
  IpInfo ip;
  if (!needsChecksum || hdr.gso_size == 0 || !ParseIp(packet, length, hdr.csum_start, &ip)) return -1;
  uint8_t* l4 = packet + ip.l4Offset;
  size_t l4HeaderLength = tcp ? static_cast<size_t>(l4[12] >> 4) * 4 : 8;
  size_t headerLength = ip.l4Offset + l4HeaderLength;
  if ((tcp && (ip.l4Offset + 20 > length || l4HeaderLength < 20)) || headerLength > length) return -1;
  size_t payloadLength = length - headerLength;
  size_t segmentSize = hdr.gso_size;
  uint32_t sequence = tcp ? Load32(l4 + 4) : 0;
  uint8_t tcpFlags = tcp ? l4[13] : 0;
  uint16_t ipv4Id = ip.version == 4 ? Load16(packet + 4) : 0;
  int made = 0;
  for (size_t offset = 0; offset < payloadLength || made == 0; offset += segmentSize) {
    size_t piece = payloadLength - offset < segmentSize ? payloadLength - offset : segmentSize;
    bool last = offset + piece >= payloadLength;
    uint8_t* out = sink.Take(headerLength + piece);
    if (out == nullptr) return -1;
    memcpy(out, packet, headerLength);
    memcpy(out + headerLength, packet + headerLength + offset, piece);
    if (ip.version == 4) Store16(out + 4, static_cast<uint16_t>(ipv4Id + made));
    SetIpLength(out, ip, headerLength + piece);
    uint8_t* outL4 = out + ip.l4Offset;
    size_t l4Length = l4HeaderLength + piece;
    size_t checksumAt;
    if (tcp) {
      Store32(outL4 + 4, sequence + static_cast<uint32_t>(offset));
      uint8_t flags = tcpFlags;
      if (!last) flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
      if (made > 0) flags &= static_cast<uint8_t>(~kTcpCwr);
      outL4[13] = flags;
      checksumAt = 16;
    } else {
      Store16(outL4 + 4, static_cast<uint32_t>(l4Length));
      checksumAt = 6;
    }
    Store16(outL4 + checksumAt, 0);
    uint16_t checksum = static_cast<uint16_t>(
        ~Fold(Sum(outL4, l4Length, PseudoHeaderSum(out, ip, tcp ? kProtoTcp : kProtoUdp, l4Length))));
    // RFC 768: a computed UDP checksum of zero is sent as all ones.
    Store16(outL4 + checksumAt, !tcp && checksum == 0 ? 0xffff : checksum);
    made++;
    if (last) break;
  }
  return made;
}

// One write the coalescer plans: a packet as it came (with an all-zero virtio header), or a TCP
// super-packet made of the first packet's headers (rewritten in `header`) and every member's payload.
struct Write {
  const uint8_t* packet;
  size_t length;
  // Packets in this write: 1, or more for a coalesced one.
  size_t segments;
  // The chain of payloads in Coalescer::payloads_, for coalesced writes.
  size_t firstPayload;
  size_t lastPayload;
  size_t headerLength;
  uint8_t header[kVnetHdrLen + 60 + 60];
};

// Coalesces the TCP segments of a batch into super-packets, GRO in user space: consecutive
// in-sequence segments of one flow with identical headers but for sequence number, IP length and
// checksums, an ACK and no flags but PSH, a valid checksum, and a payload no larger than the
// first one's. A group closes at a shorter payload, at PSH, or when it would pass 64 KiB.
class Coalescer {
 public:
  // Plans the writes for `count` packets; afterwards writes() and Iovecs() describe them.
  void Plan(const uint8_t* const* packets, const size_t* lengths, size_t count) {
    writes_.clear();
    payloads_.clear();
    groups_.clear();
    for (size_t i = 0; i < count; i++) Add(packets[i], lengths[i]);
    for (const Group& group : groups_) Finish(group);
  }

  const std::vector<Write>& writes() const { return writes_; }

  // The iovecs of one write, virtio header first: 2, or 1 + segments for a coalesced write.
  size_t Iovecs(const Write& write, iovec* out) const {
    static const uint8_t kZeroHeader[kVnetHdrLen] = {};
    if (write.segments < 2) {
      out[0] = {const_cast<uint8_t*>(kZeroHeader), kVnetHdrLen};
      out[1] = {const_cast<uint8_t*>(write.packet), write.length};
      return 2;
    }
    size_t count = 0;
    out[count++] = {const_cast<uint8_t*>(write.header), write.headerLength};
    for (size_t at = write.firstPayload; count <= write.segments; at = payloads_[at].next) {
      out[count++] = payloads_[at].iov;
    }
    return count;
  }

 private:
  struct Flow {
    IpInfo ip;
    size_t headerLength;
    size_t payloadLength;
  };

  struct Payload {
    iovec iov;
    size_t next;
  };

  struct Group {
    size_t write;
    Flow flow;
    uint32_t nextSequence;
    size_t totalLength;
    bool closed;
  };

  // Whether the packet may join a group at all; fills `flow`.
  static bool Candidate(const uint8_t* packet, size_t length, Flow* flow) {
    if (length < 20) return false;
    int version = packet[0] >> 4;
    size_t l4Offset;
    if (version == 4) {
      // No IP options, no fragments, TCP, and the length the header claims.
      if (packet[0] != 0x45 || packet[9] != kProtoTcp || (Load16(packet + 6) & 0x3fff) != 0) return false;
      if (Load16(packet + 2) != length) return false;
      l4Offset = 20;
    } else if (version == 6) {
      if (length < 40 || packet[6] != kProtoTcp || Load16(packet + 4) + 40u != length) return false;
      l4Offset = 40;
    } else {
      return false;
    }
    if (!ParseIp(packet, length, l4Offset, &flow->ip) || l4Offset + 20 > length) return false;
    const uint8_t* tcp = packet + l4Offset;
    size_t tcpHeaderLength = static_cast<size_t>(tcp[12] >> 4) * 4;
    flow->headerLength = l4Offset + tcpHeaderLength;
    if (tcpHeaderLength < 20 || flow->headerLength >= length) return false;
    flow->payloadLength = length - flow->headerLength;
    if ((tcp[13] & ~kTcpPsh) != kTcpAck) return false;
    // A corrupt segment is handed over as it is, for the kernel to drop: a super-packet's
    // checksum is recomputed, so it must not hide one.
    size_t l4Length = length - l4Offset;
    return Fold(Sum(tcp, l4Length, PseudoHeaderSum(packet, flow->ip, kProtoTcp, l4Length))) == 0xffff;
  }

  // Same addresses, ports, ack number, IP header (but length, id, checksum) and TCP options.
  static bool SameFlow(const uint8_t* a, const uint8_t* b, const Flow& flowA, const Flow& flowB) {
    if (flowA.ip.version != flowB.ip.version || flowA.headerLength != flowB.headerLength) return false;
    const IpInfo& ip = flowA.ip;
    if (memcmp(a + ip.addressOffset, b + ip.addressOffset, 2 * ip.addressLength) != 0) return false;
    if (ip.version == 4) {
      if (a[1] != b[1] || a[6] != b[6] || a[8] != b[8]) return false;
    } else if (memcmp(a, b, 4) != 0 || a[7] != b[7]) {
      return false;
    }
    const uint8_t* tcpA = a + ip.l4Offset;
    const uint8_t* tcpB = b + ip.l4Offset;
    return memcmp(tcpA, tcpB, 4) == 0 && memcmp(tcpA + 8, tcpB + 8, 4) == 0 &&
           memcmp(tcpA + 20, tcpB + 20, flowA.headerLength - ip.l4Offset - 20) == 0;
  }

  void Add(const uint8_t* packet, size_t length) {
    Write write{packet, length, 1, 0, 0, 0, {}};
    Flow flow;
    if (!Candidate(packet, length, &flow)) {
      writes_.push_back(write);
      return;
    }
    const uint8_t* tcp = packet + flow.ip.l4Offset;
    uint32_t sequence = Load32(tcp + 4);
    bool push = (tcp[13] & kTcpPsh) != 0;
    iovec payload = {const_cast<uint8_t*>(packet + flow.headerLength), flow.payloadLength};
    // Only the newest group of a flow may grow; an older one was closed when it was passed over.
    for (size_t g = groups_.size(); g-- > 0;) {
      Group& group = groups_[g];
      Write& target = writes_[group.write];
      if (!SameFlow(target.packet, packet, group.flow, flow)) continue;
      if (!group.closed && group.nextSequence == sequence && flow.payloadLength <= group.flow.payloadLength &&
          group.totalLength + flow.payloadLength <= kMaxIpPacket && target.segments < kMaxGroupSegments) {
        payloads_[target.lastPayload].next = payloads_.size();
        target.lastPayload = payloads_.size();
        payloads_.push_back({payload, 0});
        target.segments++;
        group.nextSequence += static_cast<uint32_t>(flow.payloadLength);
        group.totalLength += flow.payloadLength;
        if (push) target.header[kVnetHdrLen + flow.ip.l4Offset + 13] |= kTcpPsh;
        group.closed = flow.payloadLength < group.flow.payloadLength || push;
        return;
      }
      group.closed = true;
      break;
    }
    write.firstPayload = write.lastPayload = payloads_.size();
    payloads_.push_back({payload, 0});
    write.headerLength = kVnetHdrLen + flow.headerLength;
    memcpy(write.header + kVnetHdrLen, packet, flow.headerLength);
    groups_.push_back({writes_.size(), flow, sequence + static_cast<uint32_t>(flow.payloadLength), length, push});
    writes_.push_back(write);
  }

  // Turns a group of two or more segments into a GSO write: lengths, IPv4 header checksum, and the
  // TCP checksum left partial (the pseudo-header sum) for the kernel, as virtio-net expects.
  void Finish(const Group& group) {
    Write& write = writes_[group.write];
    if (write.segments < 2) return;
    const IpInfo& ip = group.flow.ip;
    uint8_t* packet = write.header + kVnetHdrLen;
    SetIpLength(packet, ip, group.totalLength);
    size_t l4Length = group.totalLength - ip.l4Offset;
    Store16(packet + ip.l4Offset + 16, Fold(PseudoHeaderSum(packet, ip, kProtoTcp, l4Length)));
    virtio_net_hdr hdr = {};
    hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr.gso_type = ip.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
    hdr.hdr_len = static_cast<uint16_t>(group.flow.headerLength);
    hdr.gso_size = static_cast<uint16_t>(group.flow.payloadLength);
    hdr.csum_start = static_cast<uint16_t>(ip.l4Offset);
    hdr.csum_offset = 16;
    memcpy(write.header, &hdr, kVnetHdrLen);
  }

  std::vector<Write> writes_;
  std::vector<Payload> payloads_;
  std::vector<Group> groups_;
};

}  // namespace offload
