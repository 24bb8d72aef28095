// The native receive path for established sessions (src/member/fast-receive.ts arms it): an
// application_data record from a source whose read keys the TypeScript DTLS engine handed over is
// checked against the replay window, opened in place and, when it is an IP packet from the peer's
// VPN address, written to the TUN device here, without a call into JavaScript. native/udp.cc runs
// it on each datagram its receiver reads; whatever it does not own goes to JavaScript as before.
#pragma once

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "offload.h"

namespace fast {

constexpr size_t kHeader = 13;
constexpr size_t kMaxPlaintext = 16384;
constexpr uint8_t kApplicationData = 23;

// What Take() decided about one datagram.
enum class Verdict {
  kNotOwned,  // not an armed session's record of its epoch: JavaScript handles it, as before
  kDropped,   // owned and refused (replay, bad tag, malformed); counted
  kToTun,     // opened: an IP packet from the peer's VPN address, queued for the TUN write
  kOpened,    // opened, but something else (keepalive, control record, probe, other source): for JavaScript
};

// Order shared with FAST_COUNTER_NAMES in src/net/udp-transport.ts.
enum Counter { kPackets, kBytes, kOpenedUp, kReplay, kAuth, kMalformed, kTunDrops, kCounterCount };

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// One armed session: its read epoch's keys and replay window, and the peer's VPN address.
struct Session {
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx;
  bool explicitNonce = false;  // AES-GCM: 4-byte salt + 8 bytes in the record; ChaCha20: IV XOR seq
  uint8_t iv[12] = {};
  uint16_t epoch = 0;
  // The same ring as src/dtls/replay-window.ts, so the window moves between the two unchanged.
  int64_t highest = -1;
  std::vector<uint32_t> bits;
  uint8_t vpn[16] = {};
  size_t vpnLength = 0;
  double packets = 0;
  double bytes = 0;

  ~Session() { OPENSSL_cleanse(iv, sizeof(iv)); }

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

struct KeyHash {
  size_t operator()(const Key& key) const {
    uint64_t hash = 1469598103934665603ull;
    for (uint8_t byte : key) hash = (hash ^ byte) * 1099511628211ull;
    return static_cast<size_t>(hash);
  }
};

class Receive {
 public:
  // Arms `key`: kind is "chacha20-poly1305" or "aes-128-gcm"; false for anything else.
  bool Arm(const Key& key, const std::string& kind, const uint8_t* secret, size_t secretLength, const uint8_t* iv, size_t ivLength,
           uint16_t epoch, int64_t highest, const uint32_t* bits, size_t words, const uint8_t* vpn, size_t vpnLength) {
    bool chacha = kind == "chacha20-poly1305";
    if ((!chacha && kind != "aes-128-gcm") || secretLength != (chacha ? 32u : 16u) || ivLength != (chacha ? 12u : 4u) ||
        words < 2 || (vpnLength != 4 && vpnLength != 16)) {
      return false;
    }
    auto session = std::make_unique<Session>();
    session->ctx.reset(EVP_CIPHER_CTX_new());
    EVP_CIPHER_CTX* ctx = session->ctx.get();
    const EVP_CIPHER* cipher = chacha ? EVP_chacha20_poly1305() : EVP_aes_128_gcm();
    if (ctx == nullptr || EVP_DecryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx, nullptr, nullptr, secret, nullptr) != 1) {
      return false;
    }
    session->explicitNonce = !chacha;
    memcpy(session->iv, iv, ivLength);
    session->epoch = epoch;
    session->highest = highest;
    session->bits.assign(bits, bits + words);
    memcpy(session->vpn, vpn, vpnLength);
    session->vpnLength = vpnLength;
    sessions_[key] = std::move(session);
    return true;
  }

  // Removes `key`, handing its window back; false when it was not armed.
  bool Disarm(const Key& key, int64_t* highest, uint32_t* bits, size_t words) {
    auto found = sessions_.find(key);
    if (found == sessions_.end()) return false;
    *highest = found->second->highest;
    const std::vector<uint32_t>& own = found->second->bits;
    for (size_t i = 0; i < words && i < own.size(); i++) bits[i] = own[i];
    sessions_.erase(found);
    return true;
  }

  const Session* Find(const Key& key) const {
    auto found = sessions_.find(key);
    return found == sessions_.end() ? nullptr : found->second.get();
  }

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
    if (tunFd_ < 0 || sessions_.empty() || length < kHeader || data[0] != kApplicationData) return Verdict::kNotOwned;
    auto found = sessions_.find(key);
    if (found == sessions_.end()) return Verdict::kNotOwned;
    Session& session = *found->second;
    uint16_t epoch = static_cast<uint16_t>(data[3] << 8 | data[4]);
    if (epoch != session.epoch) return Verdict::kNotOwned;
    // From here on the record is this session's: JavaScript's window does not see application data
    // any more, so nothing of it may go there unopened (a replay would pass).
    size_t fragment = static_cast<size_t>(data[11] << 8 | data[12]);
    size_t explicitLength = session.explicitNonce ? 8 : 0;
    size_t expansion = explicitLength + 16;
    if (data[1] != 0xfe || data[2] != 0xfd || kHeader + fragment > length || fragment < expansion || fragment - expansion > kMaxPlaintext) {
      counters_[kMalformed]++;
      return Verdict::kDropped;
    }
    // A second record behind an application_data record is not something our peers or pion send.
    if (kHeader + fragment < length) counters_[kMalformed]++;
    int64_t sequence = 0;
    for (int i = 5; i < 11; i++) sequence = sequence << 8 | data[i];
    if (!session.Check(sequence)) {
      counters_[kReplay]++;
      return Verdict::kDropped;
    }
    size_t textLength = fragment - expansion;
    uint8_t nonce[12];
    if (session.explicitNonce) {
      memcpy(nonce, session.iv, 4);
      memcpy(nonce + 4, data + kHeader, 8);
    } else {
      memcpy(nonce, session.iv, 12);
      for (int i = 0; i < 8; i++) nonce[4 + i] ^= data[3 + i];
    }
    uint8_t aad[13];
    memcpy(aad, data + 3, 8);
    memcpy(aad + 8, data, 3);
    aad[11] = static_cast<uint8_t>(textLength >> 8);
    aad[12] = static_cast<uint8_t>(textLength);
    uint8_t* text = data + kHeader + explicitLength;
    uint8_t tag[16];
    memcpy(tag, text + textLength, 16);
    EVP_CIPHER_CTX* ctx = session.ctx.get();
    int written = 0;
    int finished = 0;
    uint8_t empty = 0;
    uint8_t* out = textLength == 0 ? &empty : text;
    bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_DecryptUpdate(ctx, nullptr, &written, aad, sizeof(aad)) == 1 &&
              (textLength == 0 || EVP_DecryptUpdate(ctx, out, &written, out, static_cast<int>(textLength)) == 1) &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
              EVP_DecryptFinal_ex(ctx, out + (textLength == 0 ? 0 : written), &finished) == 1;
    if (!ok) {
      memset(text, 0, textLength);
      counters_[kAuth]++;
      return Verdict::kDropped;
    }
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

  std::unordered_map<Key, std::unique_ptr<Session>, KeyHash> sessions_;
  int tunFd_ = -1;
  bool vnet_ = false;
  offload::Coalescer coalescer_;
  std::vector<const uint8_t*> pending_;
  std::vector<size_t> pendingLengths_;
  double counters_[kCounterCount] = {};
};

}  // namespace fast
