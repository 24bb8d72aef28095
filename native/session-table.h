// The armed sessions of one native path, by a short fixed-size key: a datagram's source for the
// receive path (native/fast-receive.h), a VPN address for the send path (native/fast-send.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>

namespace fast {

// FNV-1a over a key's bytes.
struct KeyHash {
  template <size_t N>
  size_t operator()(const std::array<uint8_t, N>& key) const {
    uint64_t hash = 1469598103934665603ull;
    for (uint8_t byte : key) hash = (hash ^ byte) * 1099511628211ull;
    return static_cast<size_t>(hash);
  }
};

// Each session sits behind its own pointer, so it stays put while the table rehashes.
template <typename Key, typename Session>
class SessionTable {
 public:
  // Arms `key`, replacing a session it had.
  void Put(const Key& key, std::unique_ptr<Session> session) { sessions_[key] = std::move(session); }

  // Takes `key`'s session out, for the caller to hand its state back; null when it was not armed.
  std::unique_ptr<Session> Remove(const Key& key) {
    auto found = sessions_.find(key);
    if (found == sessions_.end()) return nullptr;
    std::unique_ptr<Session> session = std::move(found->second);
    sessions_.erase(found);
    return session;
  }

  // Null when `key` is not armed.
  Session* Find(const Key& key) const {
    auto found = sessions_.find(key);
    return found == sessions_.end() ? nullptr : found->second.get();
  }

  bool empty() const { return sessions_.empty(); }
  size_t size() const { return sessions_.size(); }

 private:
  std::unordered_map<Key, std::unique_ptr<Session>, KeyHash> sessions_;
};

}  // namespace fast
