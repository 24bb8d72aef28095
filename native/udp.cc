// Batched UDP sends for src/net/udp-transport.ts: one sendmmsg(2) for many datagrams on the fd of
// Node's own (nonblocking) dgram socket, so a TUN batch leaves with one syscall instead of one each.
#include <napi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace {

// Datagrams per sendmmsg call; a longer list goes out in several calls.
constexpr uint32_t kChunk = 64;

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

// sendBatch(fd, datagrams: Uint8Array[], sockaddrs: Buffer[], count) -> how many left. A datagram
// the kernel refuses (a full socket buffer, an unreachable network) is lost as UDP loses it: the
// caller counts count - sent as drops; nothing here throws per datagram.
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Array datagrams = info[1].As<Napi::Array>();
  Napi::Array sockaddrs = info[2].As<Napi::Array>();
  uint32_t count = info[3].As<Napi::Number>().Uint32Value();
  mmsghdr messages[kChunk];
  iovec vectors[kChunk];
  uint32_t sent = 0;
  uint32_t next = 0;
  while (next < count) {
    uint32_t chunk = count - next < kChunk ? count - next : kChunk;
    for (uint32_t i = 0; i < chunk; i++) {
      Napi::Uint8Array data = datagrams.Get(next + i).As<Napi::Uint8Array>();
      Napi::Buffer<uint8_t> address = sockaddrs.Get(next + i).As<Napi::Buffer<uint8_t>>();
      vectors[i].iov_base = data.Data();
      vectors[i].iov_len = data.ByteLength();
      memset(&messages[i], 0, sizeof(messages[i]));
      messages[i].msg_hdr.msg_name = address.Data();
      messages[i].msg_hdr.msg_namelen = static_cast<socklen_t>(address.Length());
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    uint32_t done = 0;
    while (done < chunk) {
      int result = sendmmsg(fd, messages + done, chunk - done, MSG_DONTWAIT);
      if (result < 0) {
        if (errno == EINTR) continue;
        // A full buffer stays full for the rest of this batch; any other error belongs to the
        // first datagram alone, so skip it and go on.
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        done++;
        continue;
      }
      sent += static_cast<uint32_t>(result);
      done += static_cast<uint32_t>(result);
    }
    next += chunk;
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sockaddr", Napi::Function::New(env, Sockaddr));
  exports.Set("sendBatch", Napi::Function::New(env, SendBatch));
  exports.Set("sendWithTtl", Napi::Function::New(env, SendWithTtl));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshboi_udp, Init)
