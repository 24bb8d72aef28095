// Batched UDP for src/net/udp-transport.ts on the fd of Node's own (nonblocking) dgram socket:
// sends leave through one sendmmsg(2) per batch, runs of equal-sized datagrams to one destination
// as one UDP_SEGMENT (GSO) message each; receives arrive through recvmmsg(2), with UDP_GRO where the
// kernel has it, one batch per call into JavaScript, less the records of armed sessions, which the
// native receive path (native/fast-receive.h) opens and writes to the TUN device itself.
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "batch-send.h"
#include "fast-receive.h"
#include "poll-reader.h"

namespace {

// sockaddr(address, port, mapIPv4) -> Buffer holding a sockaddr_in/sockaddr_in6, or null when the
// address is not a numeric IPv4/IPv6 address. mapIPv4 turns an IPv4 address into ::ffff:a.b.c.d
// for a dual-stack IPv6 socket. Callers cache the result per destination.
Napi::Value Sockaddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string address = info[0].As<Napi::String>().Utf8Value();
  uint32_t port = info[1].As<Napi::Number>().Uint32Value();
  bool mapIPv4 = info[2].As<Napi::Boolean>().Value();
  // Port 0 and out-of-range ports go to dgram, which reports them.
  if (port == 0 || port > 65535) return env.Null();
  in_addr v4;
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    if (!mapIPv4) {
      sockaddr_in out = {};
      out.sin_family = AF_INET;
      out.sin_port = htons(static_cast<uint16_t>(port));
      out.sin_addr = v4;
      return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&out), sizeof(out));
    }
    address = "::ffff:" + address;
  }
  sockaddr_in6 out6 = {};
  if (inet_pton(AF_INET6, address.c_str(), &out6.sin6_addr) != 1) return env.Null();
  out6.sin6_family = AF_INET6;
  out6.sin6_port = htons(static_cast<uint16_t>(port));
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&out6), sizeof(out6));
}

// sendBatch(fd, datagrams: Uint8Array[], sockaddrs: Buffer[], count, segment, gsoState) -> how
// many left; segment: whether runs may leave as GSO messages; gsoState (an Int32Array of one) gets
// the errno that stopped GSO for the process, 0 while it works. A datagram
// the kernel refuses (a full socket buffer, an unreachable network) is lost as UDP loses it: the
// caller counts count - sent as drops; nothing here throws per datagram. Callers pass the same
// sockaddr Buffer for one destination, so a run is found by comparing pointers.
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Array datagrams = info[1].As<Napi::Array>();
  Napi::Array sockaddrs = info[2].As<Napi::Array>();
  uint32_t count = info[3].As<Napi::Number>().Uint32Value();
  std::vector<iovec> vectors(count);
  std::vector<std::pair<void*, socklen_t>> addresses(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Uint8Array data = datagrams.Get(i).As<Napi::Uint8Array>();
    Napi::Buffer<uint8_t> address = sockaddrs.Get(i).As<Napi::Buffer<uint8_t>>();
    vectors[i] = {data.Data(), data.ByteLength()};
    addresses[i] = {address.Data(), static_cast<socklen_t>(address.Length())};
  }
  uint32_t sent = batch::Send(fd, vectors.data(), addresses.data(), count, info[4].ToBoolean());
  if (batch::gsoRefused && info[5].IsTypedArray()) {
    Napi::Int32Array state = info[5].As<Napi::Int32Array>();
    if (state.ElementLength() > 0) state[0] = batch::gsoRefusedErrno;
  }
  return Napi::Number::New(env, sent);
}

// sendWithTtl(fd, datagram: Uint8Array, sockaddr: Buffer, ttl) -> whether it left. The TTL (hop
// limit) rides in a control message, so it applies to this datagram alone: the socket's other
// sends keep the default. IPv4 and IPv4-mapped destinations take IP_TTL (the kernel sends the
// mapped ones through its IPv4 path), the rest IPV6_HOPLIMIT.
Napi::Value SendWithTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  Napi::Buffer<uint8_t> address = info[2].As<Napi::Buffer<uint8_t>>();
  int ttl = info[3].As<Napi::Number>().Int32Value();
  const sockaddr* target = reinterpret_cast<const sockaddr*>(address.Data());
  bool ipv4 = target->sa_family == AF_INET ||
              IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(target)->sin6_addr);
  iovec vector = {data.Data(), data.ByteLength()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  msghdr message;
  memset(&message, 0, sizeof(message));
  message.msg_name = address.Data();
  message.msg_namelen = static_cast<socklen_t>(address.Length());
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = ipv4 ? IPPROTO_IP : IPPROTO_IPV6;
  header->cmsg_type = ipv4 ? IP_TTL : IPV6_HOPLIMIT;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(header), &ttl, sizeof(int));
  ssize_t result;
  do {
    result = sendmsg(fd, &message, MSG_DONTWAIT);
  } while (result < 0 && errno == EINTR);
  return Napi::Boolean::New(env, result >= 0);
}
// A datagram's source as a key: family, port and address bytes.
using SourceKey = fast::Key;
using SourceKeyHash = fast::KeyHash;

SourceKey KeyOf(const sockaddr_storage& name) {
  SourceKey key = {};
  if (name.ss_family == AF_INET) {
    const sockaddr_in& v4 = reinterpret_cast<const sockaddr_in&>(name);
    key[0] = 4;
    memcpy(&key[1], &v4.sin_port, 2);
    memcpy(&key[4], &v4.sin_addr, 4);
  } else {
    const sockaddr_in6& v6 = reinterpret_cast<const sockaddr_in6&>(name);
    key[0] = 6;
    memcpy(&key[1], &v6.sin6_port, 2);
    memcpy(&key[4], &v6.sin6_addr, 16);
  }
  return key;
}

// The key of a sockaddr Buffer made by sockaddr() above.
SourceKey KeyOf(const Napi::Buffer<uint8_t>& address) {
  sockaddr_storage name = {};
  memcpy(&name, address.Data(), std::min(address.Length(), sizeof(name)));
  return KeyOf(name);
}

// Marks an entry whose record the native receive path opened but left to JavaScript: the entry
// then describes the plaintext, not the datagram.
constexpr uint32_t kOpenedFlag = 0x80000000u;

// Sources numbered so JavaScript can cache one endpoint object per number; the table starts over
// past this many, and JavaScript learns that from the generation.
constexpr uint32_t kSourceLimit = 4096;

// Reads the socket with recvmmsg(2) when libuv reports it readable and hands JavaScript one batch
// per call: offsets, lengths and source numbers of the datagrams in the shared slab. A UDP_GRO
// super-datagram is split back into its datagrams here.
class UdpReceiver : public Napi::ObjectWrap<UdpReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpReceiver",
                       {
                           InstanceAccessor<&UdpReceiver::Gro>("gro"),
                           InstanceMethod<&UdpReceiver::Start>("start"),
                           InstanceMethod<&UdpReceiver::Source>("source"),
                           InstanceMethod<&UdpReceiver::ReadCounters>("readCounters"),
                           InstanceMethod<&UdpReceiver::Arm>("arm"),
                           InstanceMethod<&UdpReceiver::Disarm>("disarm"),
                           InstanceMethod<&UdpReceiver::SessionCounters>("sessionCounters"),
                           InstanceMethod<&UdpReceiver::AttachTun>("attachTun"),
                           InstanceMethod<&UdpReceiver::Close>("close"),
                       });
  }

  // new UdpReceiver({ fd, slab, messageSize, offsets: Uint32Array, lengths: Uint32Array, sources: Uint32Array, state: Uint32Array })
  explicit UdpReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpReceiver>(info) {
    Napi::Env env = info.Env();
    Napi::Object options = info[0].As<Napi::Object>();
    Napi::Uint8Array slab = options.Get("slab").As<Napi::Uint8Array>();
    Napi::Uint32Array offsets = options.Get("offsets").As<Napi::Uint32Array>();
    Napi::Uint32Array lengths = options.Get("lengths").As<Napi::Uint32Array>();
    Napi::Uint32Array sources = options.Get("sources").As<Napi::Uint32Array>();
    Napi::Uint32Array state = options.Get("state").As<Napi::Uint32Array>();
    messageSize_ = options.Get("messageSize").As<Napi::Number>().Uint32Value();
    messageCount_ = static_cast<uint32_t>(slab.ByteLength() / messageSize_);
    entryCount_ = static_cast<uint32_t>(std::min(offsets.ElementLength(), std::min(lengths.ElementLength(), sources.ElementLength())));
    if (messageCount_ == 0 || entryCount_ == 0 || state.ElementLength() < 1) {
      Napi::RangeError::New(env, "UdpReceiver needs room for one message and one entry").ThrowAsJavaScriptException();
      return;
    }
    slab_ = slab.Data();
    offsets_ = offsets.Data();
    lengths_ = lengths.Data();
    sources_ = sources.Data();
    state_ = state.Data();
    refs_[0] = Napi::Persistent(Napi::Object(slab));
    refs_[1] = Napi::Persistent(Napi::Object(offsets));
    refs_[2] = Napi::Persistent(Napi::Object(lengths));
    refs_[3] = Napi::Persistent(Napi::Object(sources));
    refs_[4] = Napi::Persistent(Napi::Object(state));
    // Our own descriptor for the same socket: libuv keys its watchers by descriptor, and Node's
    // dgram handle keeps the original for sends.
    int fd = fcntl(options.Get("fd").As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      Napi::Error::New(env, std::string("cannot duplicate the UDP socket: ") + strerror(errno)).ThrowAsJavaScriptException();
      return;
    }
    reader_.Adopt(fd);
    int on = 1;
    gro_ = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
    headers_.resize(messageCount_);
    vectors_.resize(messageCount_);
    names_.resize(messageCount_);
    controls_.resize(messageCount_);
  }

 private:
  struct Control {
    alignas(cmsghdr) char bytes[CMSG_SPACE(sizeof(int))];
  };

  Napi::Value Gro(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), gro_); }

  // start(onReadable): onReadable(count) after `count` datagrams were described in the arrays.
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uv_loop_t* loop = nullptr;
    if (reader_.fd() < 0 || reader_.started() || napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "start needs an open receiver that is not yet started").ThrowAsJavaScriptException();
      return;
    }
    int status = reader_.Start(loop, info[0].As<Napi::Function>(), "meshboi:udp");
    if (status != 0) {
      Napi::Error::New(env, std::string("cannot watch the UDP socket: ") + uv_strerror(status)).ThrowAsJavaScriptException();
    }
  }

  // source(number) -> [address, port] of a source number from the current generation.
  Napi::Value Source(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t number = info[0].As<Napi::Number>().Uint32Value();
    if (number >= sourceList_.size()) return env.Null();
    const SourceKey& key = sourceList_[number];
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(key[0] == 4 ? AF_INET : AF_INET6, key.data() + 4, text, sizeof(text));
    Napi::Array result = Napi::Array::New(env, 2);
    result.Set(0u, Napi::String::New(env, text));
    result.Set(1u, Napi::Number::New(env, key[1] << 8 | key[2]));
    return result;
  }

  // [datagrams, batches (recvmmsg calls that returned some), super-datagrams split, errors,
  // then the native receive path's fast::Counter values, then its armed sessions]
  void ReadCounters(const Napi::CallbackInfo& info) {
    Napi::Float64Array out = info[0].As<Napi::Float64Array>();
    size_t at = 0;
    for (size_t i = 0; i < 4 && at < out.ElementLength(); i++) out[at++] = counters_[i];
    for (size_t i = 0; i < fast::kCounterCount && at < out.ElementLength(); i++) out[at++] = fast_.counters()[i];
    if (at < out.ElementLength()) out[at] = static_cast<double>(fast_.armed());
  }

  void Close(const Napi::CallbackInfo&) { reader_.Close(); }

  uint32_t SourceNumber(const SourceKey& key) {
    if (lastNumber_ < sourceList_.size() && sourceList_[lastNumber_] == key) return lastNumber_;
    auto found = sourceNumbers_.find(key);
    if (found != sourceNumbers_.end()) return lastNumber_ = found->second;
    if (sourceList_.size() >= kSourceLimit) {
      sourceNumbers_.clear();
      sourceList_.clear();
      state_[0]++;
    }
    lastNumber_ = static_cast<uint32_t>(sourceList_.size());
    sourceNumbers_.emplace(key, lastNumber_);
    sourceList_.push_back(key);
    return lastNumber_;
  }

  // One recvmmsg per call, so a busy socket cannot starve the loop; the poll fires again for the rest.
  void ReadBatch(int status) {
    if (status < 0 || reader_.fd() < 0) return;
    for (uint32_t i = 0; i < messageCount_; i++) {
      vectors_[i] = {slab_ + size_t{messageSize_} * i, messageSize_};
      mmsghdr& header = headers_[i];
      memset(&header, 0, sizeof(header));
      header.msg_hdr.msg_name = &names_[i];
      header.msg_hdr.msg_namelen = sizeof(names_[i]);
      header.msg_hdr.msg_iov = &vectors_[i];
      header.msg_hdr.msg_iovlen = 1;
      header.msg_hdr.msg_control = controls_[i].bytes;
      header.msg_hdr.msg_controllen = sizeof(controls_[i].bytes);
    }
    int received;
    do {
      received = recvmmsg(reader_.fd(), headers_.data(), messageCount_, MSG_DONTWAIT, nullptr);
    } while (received < 0 && errno == EINTR);
    if (received <= 0) {
      if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) counters_[3]++;
      return;
    }
    counters_[1]++;
    uint32_t count = 0;
    for (int i = 0; i < received && reader_.fd() >= 0; i++) {
      msghdr& header = headers_[i].msg_hdr;
      size_t length = headers_[i].msg_len;
      if ((header.msg_flags & MSG_TRUNC) != 0) {
        counters_[3]++;
        continue;
      }
      size_t segment = length;
      for (cmsghdr* control = CMSG_FIRSTHDR(&header); control != nullptr; control = CMSG_NXTHDR(&header, control)) {
        if (control->cmsg_level == SOL_UDP && control->cmsg_type == UDP_GRO) {
          int size = 0;
          memcpy(&size, CMSG_DATA(control), sizeof(size));
          if (size > 0) segment = static_cast<size_t>(size);
        }
      }
      if (segment < length) counters_[2]++;
      SourceKey key = KeyOf(names_[i]);
      uint32_t source = SourceNumber(key);
      uint32_t base = messageSize_ * static_cast<uint32_t>(i);
      for (size_t offset = 0; offset < length || length == 0; offset += segment) {
        if (count == entryCount_) {
          reader_.Deliver(count);
          count = 0;
          if (reader_.fd() < 0) return;
        }
        size_t piece = length - offset < segment ? length - offset : segment;
        counters_[0]++;
        uint8_t* plaintext = nullptr;
        size_t plaintextLength = 0;
        fast::Verdict verdict = fast_.Take(key, slab_ + base + offset, piece, &plaintext, &plaintextLength);
        if (verdict == fast::Verdict::kOpened) {
          offsets_[count] = static_cast<uint32_t>(plaintext - slab_);
          lengths_[count] = static_cast<uint32_t>(plaintextLength);
          sources_[count] = source | kOpenedFlag;
          count++;
        } else if (verdict == fast::Verdict::kNotOwned) {
          offsets_[count] = base + static_cast<uint32_t>(offset);
          lengths_[count] = static_cast<uint32_t>(piece);
          sources_[count] = source;
          count++;
        }
        if (length == 0) break;
      }
    }
    // The opened packets view the slab, which the next recvmmsg reuses.
    fast_.Flush();
    if (count > 0) reader_.Deliver(count);
  }

  // arm(sockaddr, kind, key, iv, epoch, highest, bits: Uint32Array, vpn) -> whether the session
  // is now opened natively: from here on its application data of that epoch never reaches
  // JavaScript unopened, and the window in `bits` (with `highest`, -1 for none) is the one in use.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> address = info[0].As<Napi::Buffer<uint8_t>>();
    std::string kind = info[1].As<Napi::String>().Utf8Value();
    Napi::Uint8Array secret = info[2].As<Napi::Uint8Array>();
    Napi::Uint8Array iv = info[3].As<Napi::Uint8Array>();
    uint32_t epoch = info[4].As<Napi::Number>().Uint32Value();
    int64_t highest = info[5].As<Napi::Number>().Int64Value();
    Napi::Uint32Array bits = info[6].As<Napi::Uint32Array>();
    Napi::Uint8Array vpn = info[7].As<Napi::Uint8Array>();
    if (reader_.fd() < 0 || !fast_.HasTun() || epoch == 0 || epoch > 0xffff) return Napi::Boolean::New(env, false);
    bool armed = fast_.Arm(KeyOf(address), kind, secret.Data(), secret.ByteLength(), iv.Data(), iv.ByteLength(), static_cast<uint16_t>(epoch),
                           highest, bits.Data(), bits.ElementLength(), vpn.Data(), vpn.ByteLength());
    return Napi::Boolean::New(env, armed);
  }

  // disarm(sockaddr, bits: Uint32Array) -> the window's highest sequence number (bits filled in),
  // or null when the source was not armed.
  Napi::Value Disarm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint32Array bits = info[1].As<Napi::Uint32Array>();
    int64_t highest = -1;
    if (!fast_.Disarm(KeyOf(info[0].As<Napi::Buffer<uint8_t>>()), &highest, bits.Data(), bits.ElementLength())) return env.Null();
    return Napi::Number::New(env, static_cast<double>(highest));
  }

  // sessionCounters(sockaddr, out: Float64Array): [packets, bytes] written to TUN for one armed source.
  void SessionCounters(const Napi::CallbackInfo& info) {
    Napi::Float64Array out = info[1].As<Napi::Float64Array>();
    const fast::Session* session = fast_.Find(KeyOf(info[0].As<Napi::Buffer<uint8_t>>()));
    if (out.ElementLength() < 2) return;
    out[0] = session ? session->packets : 0;
    out[1] = session ? session->bytes : 0;
  }

  // attachTun(fd, vnet): where armed sessions' packets go; fd -1 detaches (every session disarmed first).
  void AttachTun(const Napi::CallbackInfo& info) {
    fast_.AttachTun(info[0].As<Napi::Number>().Int32Value(), info[1].ToBoolean());
  }

  bool gro_ = false;
  uint8_t* slab_ = nullptr;
  uint32_t* offsets_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint32_t* sources_ = nullptr;
  uint32_t* state_ = nullptr;
  uint32_t messageSize_ = 0;
  uint32_t messageCount_ = 0;
  uint32_t entryCount_ = 0;
  Napi::ObjectReference refs_[5];
  std::vector<mmsghdr> headers_;
  std::vector<iovec> vectors_;
  std::vector<sockaddr_storage> names_;
  std::vector<Control> controls_;
  std::unordered_map<SourceKey, uint32_t, SourceKeyHash> sourceNumbers_;
  std::vector<SourceKey> sourceList_;
  uint32_t lastNumber_ = 0;
  double counters_[4] = {};
  fast::Receive fast_;
  // Owns our duplicate of the socket's descriptor; the dgram socket stays Node's to close.
  io::PollReader<UdpReceiver, &UdpReceiver::ReadBatch> reader_{this};
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sockaddr", Napi::Function::New(env, Sockaddr));
  exports.Set("sendBatch", Napi::Function::New(env, SendBatch));
  exports.Set("sendWithTtl", Napi::Function::New(env, SendWithTtl));
  exports.Set("UdpReceiver", UdpReceiver::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshboi_udp, Init)
