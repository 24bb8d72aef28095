// The native send path for established sessions (src/member/fast-path.ts arms it): a packet read
// from the TUN device whose destination is an armed peer's VPN address is sealed here, one
// application_data record per packet, with the write keys the TypeScript DTLS engine handed over,
// and leaves with the batch through sendmmsg(2) and GSO, without a call into JavaScript. Once
// armed, the session's write sequence numbers are owned here; JavaScript takes the next one for
// any record it seals itself. native/tun.cc runs it on each batch it reads.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batch-send.h"
#include "record-cipher.h"
#include "session-table.h"

namespace fast {

// A destination VPN address: 4 or 16 bytes, zero-padded, and its length last.
using Destination = std::array<uint8_t, 17>;

inline bool MakeDestination(const uint8_t* address, size_t length, Destination* out) {
  if (length != 4 && length != 16) return false;
  out->fill(0);
  memcpy(out->data(), address, length);
  (*out)[16] = static_cast<uint8_t>(length);
  return true;
}

// One armed session's write side.
struct WriteSession {
  record::Cipher cipher;
  uint16_t epoch = 0;
  uint64_t next = 0;
  std::vector<uint8_t> sockaddr;
  size_t maxPacket = 0;
  double packets = 0;
  double bytes = 0;
};

// Order shared with SEND_COUNTER_NAMES in src/tun/linux.ts.
enum SendCounter { kSent, kSendDrops, kSendCounterCount };

class Send {
 public:
  bool Arm(const Destination& destination, const uint8_t* sockaddr, size_t sockaddrLength, const std::string& kind, const uint8_t* key,
           size_t keyLength, const uint8_t* iv, size_t ivLength, uint16_t epoch, uint64_t next, size_t maxPacket) {
    if (sockaddrLength == 0 || sockaddrLength > sizeof(sockaddr_storage) || next > record::kMaxSequence) return false;
    auto session = std::make_unique<WriteSession>();
    if (!session->cipher.Init(kind, true, key, keyLength, iv, ivLength)) return false;
    session->epoch = epoch;
    session->next = next;
    session->sockaddr.assign(sockaddr, sockaddr + sockaddrLength);
    session->maxPacket = maxPacket;
    sessions_.Put(destination, std::move(session));
    return true;
  }

  // Removes the destination, handing back its next sequence number; false when it was not armed.
  bool Disarm(const Destination& destination, uint64_t* next) {
    std::unique_ptr<WriteSession> session = sessions_.Remove(destination);
    if (session == nullptr) return false;
    *next = session->next;
    return true;
  }

  // The next sequence number of an armed destination, for a record JavaScript seals itself.
  bool TakeSequence(const Destination& destination, uint64_t* sequence) {
    WriteSession* session = sessions_.Find(destination);
    if (session == nullptr) return false;
    *sequence = session->next++;
    return true;
  }

  const WriteSession* Find(const Destination& destination) const { return sessions_.Find(destination); }

  size_t armed() const { return sessions_.size(); }
  const double* counters() const { return counters_; }

  // The UDP socket records leave through (Node's dgram socket, which outlives the arming); -1 stops.
  // `records` and `recordSize` size the buffer one batch of sealed records is kept in.
  void AttachSocket(int fd, size_t records, size_t recordSize) {
    fd_ = fd;
    recordSize_ = recordSize;
    buffer_.assign(fd < 0 ? 0 : records * recordSize, 0);
    vectors_.resize(fd < 0 ? 0 : records);
    addresses_.resize(fd < 0 ? 0 : records);
    count_ = 0;
  }

  // One IP packet read from the device: true when it was sealed for an armed peer and queued.
  bool Take(const uint8_t* packet, size_t length) {
    if (fd_ < 0 || sessions_.empty() || length < 20) return false;
    Destination destination;
    int version = packet[0] >> 4;
    if (version == 4) {
      MakeDestination(packet + 16, 4, &destination);
    } else if (version == 6 && length >= 40) {
      MakeDestination(packet + 24, 16, &destination);
    } else {
      return false;
    }
    WriteSession* found = sessions_.Find(destination);
    if (found == nullptr) return false;
    WriteSession& session = *found;
    // JavaScript counts what it refuses (too large for an original peer) and what runs out of numbers.
    if (length > session.maxPacket || length > record::kMaxPlaintext || session.next > record::kMaxSequence ||
        record::kHeader + session.cipher.Expansion() + length > recordSize_) {
      return false;
    }
    if (count_ == vectors_.size()) Flush();
    uint8_t* out = buffer_.data() + count_ * recordSize_;
    size_t sealed = session.cipher.Seal(session.epoch, session.next, packet, length, out);
    if (sealed == 0) return false;
    session.next++;
    session.packets++;
    session.bytes += static_cast<double>(length);
    vectors_[count_] = {out, sealed};
    addresses_[count_] = {session.sockaddr.data(), static_cast<socklen_t>(session.sockaddr.size())};
    count_++;
    return true;
  }

  // Sends what Take() queued.
  void Flush() {
    if (count_ == 0) return;
    uint32_t sent = batch::Send(fd_, vectors_.data(), addresses_.data(), static_cast<uint32_t>(count_), true);
    counters_[kSent] += sent;
    counters_[kSendDrops] += static_cast<double>(count_ - sent);
    count_ = 0;
  }

 private:
  SessionTable<Destination, WriteSession> sessions_;
  int fd_ = -1;
  size_t recordSize_ = 0;
  std::vector<uint8_t> buffer_;
  std::vector<iovec> vectors_;
  std::vector<std::pair<void*, socklen_t>> addresses_;
  size_t count_ = 0;
  double counters_[kSendCounterCount] = {};
};

}  // namespace fast
