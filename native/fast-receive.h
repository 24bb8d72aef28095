// The native receive path for established sessions (src/member/fast-path.ts arms it): an
// application_data record from a source whose read keys the TypeScript DTLS engine handed over is
// checked against the replay window, opened in place and, when it is an IP packet from the peer's
// VPN address, written to the TUN device here, without a call into JavaScript. native/udp.cc runs
// it on each datagram its receiver reads; whatever it does not own goes to JavaScript as before.
#pragma once

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "offload.h"
#include "record-cipher.h"
#include "session-table.h"

namespace fast {

// What Take() decided about one datagram.
enum class Verdict {
  kNotOwned,  // not an armed session's record of its epoch: JavaScript handles it, as before
  kDropped,   // owned and refused (replay, bad tag, malformed); counted
  kToTun,     // opened: an IP packet from the peer's VPN address, queued for the TUN write
  kOpened,    // opened, but something else (keepalive, control record, probe, other source): for JavaScript
};

// Order shared with FAST_COUNTER_NAMES in src/net/udp-transport.ts.
enum Counter { kPackets, kBytes, kOpenedUp, kReplay, kAuth, kMalformed, kTunDrops, kCounterCount };

// One armed session: its read epoch's keys and replay window, and the peer's VPN address.
struct Session {
  record::Cipher cipher;
  uint16_t epoch = 0;
  // The same ring as src/dtls/replay-window.ts, so the window moves between the two unchanged.
  int64_t highest = -1;
  std::vector<uint32_t> bits;
  uint8_t vpn[16] = {};
  size_t vpnLength = 0;
  double packets = 0;
  double bytes = 0;

  size_t Size() const { return bits.size() * 32; }

  bool Check(int64_t sequence) const {
    if (sequence > highest) return true;
    if (highest - sequence >= static_cast<int64_t>(Size())) return false;
    size_t position = static_cast<size_t>(sequence) % Size();
    return (bits[position >> 5] & (1u << (position & 31))) == 0;
  }

  void Accept(int64_t sequence) {
    if (sequence > highest) {
      if (sequence - highest >= static_cast<int64_t>(Size())) {
        std::fill(bits.begin(), bits.end(), 0);
      } else {
        for (int64_t skipped = highest + 1; skipped < sequence; skipped++) {
          size_t position = static_cast<size_t>(skipped) % Size();
          bits[position >> 5] &= ~(1u << (position & 31));
        }
      }
      highest = sequence;
    }
    size_t position = static_cast<size_t>(sequence) % Size();
    bits[position >> 5] |= 1u << (position & 31);
  }
};

// A datagram's source: family, port and address bytes (the same key native/udp.cc numbers sources by).
using Key = std::array<uint8_t, 20>;

class Receive {
 public:
  // Arms `key`: kind is "chacha20-poly1305" or "aes-128-gcm"; false for anything else.
  bool Arm(const Key& key, const std::string& kind, const uint8_t* secret, size_t secretLength, const uint8_t* iv, size_t ivLength,
           uint16_t epoch, int64_t highest, const uint32_t* bits, size_t words, const uint8_t* vpn, size_t vpnLength) {
    if (words < 2 || (vpnLength != 4 && vpnLength != 16)) return false;
    auto session = std::make_unique<Session>();
    if (!session->cipher.Init(kind, false, secret, secretLength, iv, ivLength)) return false;
    session->epoch = epoch;
    session->highest = highest;
    session->bits.assign(bits, bits + words);
    memcpy(session->vpn, vpn, vpnLength);
    session->vpnLength = vpnLength;
    sessions_.Put(key, std::move(session));
    return true;
  }

  // Removes `key`, handing its window back; false when it was not armed.
  bool Disarm(const Key& key, int64_t* highest, uint32_t* bits, size_t words) {
    std::unique_ptr<Session> session = sessions_.Remove(key);
    if (session == nullptr) return false;
    *highest = session->highest;
    for (size_t i = 0; i < words && i < session->bits.size(); i++) bits[i] = session->bits[i];
    return true;
  }

  const Session* Find(const Key& key) const { return sessions_.Find(key); }

  size_t armed() const { return sessions_.size(); }
  const double* counters() const { return counters_; }

  // The TUN device's descriptor (owned by native/tun.cc's device, which outlives the arming).
  void AttachTun(int fd, bool vnet) {
    tunFd_ = fd;
    vnet_ = vnet;
  }
  bool HasTun() const { return tunFd_ >= 0; }

  // One datagram from `key`. Opens in place; a kToTun or kOpened plaintext is [*plaintext, +*length).
  Verdict Take(const Key& key, uint8_t* data, size_t length, uint8_t** plaintext, size_t* plaintextLength) {
    if (tunFd_ < 0 || sessions_.empty() || length < record::kHeader || data[0] != record::kApplicationData) return Verdict::kNotOwned;
    Session* found = sessions_.Find(key);
    if (found == nullptr) return Verdict::kNotOwned;
    Session& session = *found;
    uint16_t epoch = static_cast<uint16_t>(data[3] << 8 | data[4]);
    if (epoch != session.epoch) return Verdict::kNotOwned;
    // From here on the record is this session's: JavaScript's window does not see application data
    // any more, so nothing of it may go there unopened (a replay would pass).
    size_t fragment = static_cast<size_t>(data[11] << 8 | data[12]);
    size_t expansion = session.cipher.Expansion();
    if (data[1] != 0xfe || data[2] != 0xfd || record::kHeader + fragment > length || fragment < expansion ||
        fragment - expansion > record::kMaxPlaintext) {
      counters_[kMalformed]++;
      return Verdict::kDropped;
    }
    // A second record behind an application_data record is not something our peers or pion send.
    if (record::kHeader + fragment < length) counters_[kMalformed]++;
    int64_t sequence = 0;
    for (int i = 5; i < 11; i++) sequence = sequence << 8 | data[i];
    if (!session.Check(sequence)) {
      counters_[kReplay]++;
      return Verdict::kDropped;
    }
    uint8_t* text = nullptr;
    long opened = session.cipher.Open(data, fragment, &text);
    if (opened < 0) {
      counters_[kAuth]++;
      return Verdict::kDropped;
    }
    size_t textLength = static_cast<size_t>(opened);
    // Authenticate before you mutate: the window moves only for records that opened.
    session.Accept(sequence);
    *plaintext = text;
    *plaintextLength = textLength;
    if (!FromPeer(session, text, textLength)) {
      counters_[kOpenedUp]++;
      return Verdict::kOpened;
    }
    session.packets++;
    session.bytes += static_cast<double>(textLength);
    counters_[kPackets]++;
    counters_[kBytes] += static_cast<double>(textLength);
    pending_.push_back(text);
    pendingLengths_.push_back(textLength);
    return Verdict::kToTun;
  }

  // Writes the packets Take() queued, TCP segments of one flow coalesced where the device has
  // virtio headers; call before the receive slab is reused.
  void Flush() {
    if (pending_.empty()) return;
    if (!vnet_) {
      for (size_t i = 0; i < pending_.size(); i++) {
        iovec vector = {const_cast<uint8_t*>(pending_[i]), pendingLengths_[i]};
        Write(&vector, 1, 1);
      }
    } else {
      coalescer_.Plan(pending_.data(), pendingLengths_.data(), pending_.size());
      iovec vectors[offload::kMaxGroupSegments + 1];
      for (const offload::Write& write : coalescer_.writes()) {
        size_t used = coalescer_.Iovecs(write, vectors);
        Write(vectors, used, write.segments);
      }
    }
    pending_.clear();
    pendingLengths_.clear();
  }

 private:
  // An IP packet whose source is the peer's VPN address; anything else (a keepalive, a control or
  // probe record, a packet from one of the peer's routes) JavaScript judges.
  static bool FromPeer(const Session& session, const uint8_t* packet, size_t length) {
    if (session.vpnLength == 4) return length >= 20 && packet[0] >> 4 == 4 && memcmp(packet + 12, session.vpn, 4) == 0;
    return length >= 40 && packet[0] >> 4 == 6 && memcmp(packet + 8, session.vpn, 16) == 0;
  }

  // A write the kernel refuses is a drop, as in native/tun.cc.
  void Write(const iovec* vectors, size_t count, size_t packets) {
    while (writev(tunFd_, vectors, static_cast<int>(count)) < 0) {
      if (errno == EINTR) continue;
      counters_[kTunDrops] += static_cast<double>(packets);
      return;
    }
  }

  SessionTable<Key, Session> sessions_;
  int tunFd_ = -1;
  bool vnet_ = false;
  offload::Coalescer coalescer_;
  std::vector<const uint8_t*> pending_;
  std::vector<size_t> pendingLengths_;
  double counters_[kCounterCount] = {};
};

}  // namespace fast
