// The TUN/TAP addon: opens /dev/net/tun, reads packet batches when libuv reports readiness and
// writes with write(2). Only src/tun/linux.ts loads it; JavaScript owns the read slab, so packets
// reach handlers as views into it. A TUN device opened with offloads (IFF_VNET_HDR) reads TCP and
// UDP super-packets, cut here into MTU-sized packets, and writes batches with TCP segments of one
// flow coalesced into super-packets (native/offload.h). Packets for peers armed on the native send
// path (native/fast-send.h) are sealed and sent from here; only the rest reach JavaScript.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fast-send.h"
#include "offload.h"
#include "poll-reader.h"

namespace {

// Older kernel headers lack UDP segmentation offload for TUN (kernel 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

// Order shared with COUNTER_NAMES in src/tun/linux.ts.
enum Counter {
  kPacketsRead,
  kBytesRead,
  kReadBatches,
  kReadErrors,
  kPacketsWritten,
  kBytesWritten,
  kWriteDropsFull,
  kWriteDropsRejected,
  kSuperPacketsRead,
  kSuperPacketsWritten,
  kCounterCount,
};

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  Napi::Error error = Napi::Error::New(env, what + ": " + strerror(err));
  const char* name = strerrorname_np(err);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, name != nullptr ? name : "UNKNOWN"));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

struct OpenResult {
  int fd;
  int err;
  const char* syscall;
};

OpenResult OpenCloneDevice(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  return {fd, fd < 0 ? errno : 0, "open"};
}

// The tun driver creates the interface in the namespace the clone device was opened in, so only
// open(2) runs inside the target namespace, on this thread alone, before it switches back.
OpenResult OpenCloneDeviceIn(const std::string& path, const std::string& netnsPath) {
  int target = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) return {-1, errno, "open-netns"};
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int err = errno;
    close(target);
    return {-1, err, "open-netns"};
  }
  OpenResult result{-1, 0, "setns"};
  if (setns(target, CLONE_NEWNET) != 0) {
    result.err = errno;
  } else {
    result = OpenCloneDevice(path);
    // Staying in the other namespace would silently move every later socket of this thread.
    if (setns(home, CLONE_NEWNET) != 0) abort();
  }
  close(target);
  close(home);
  return result;
}

class TunDevice : public Napi::ObjectWrap<TunDevice> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunDevice",
                       {
                           InstanceAccessor<&TunDevice::Name>("name"),
                           InstanceAccessor<&TunDevice::Offloads>("offloads"),
                           InstanceAccessor<&TunDevice::Descriptor>("descriptor"),
                           InstanceMethod<&TunDevice::Start>("start"),
                           InstanceMethod<&TunDevice::WriteBatch>("writeBatch"),
                           InstanceMethod<&TunDevice::ReadCounters>("readCounters"),
                           InstanceMethod<&TunDevice::AttachSocket>("attachSocket"),
                           InstanceMethod<&TunDevice::ArmSend>("armSend"),
                           InstanceMethod<&TunDevice::DisarmSend>("disarmSend"),
                           InstanceMethod<&TunDevice::TakeSequence>("takeSequence"),
                           InstanceMethod<&TunDevice::SendCounters>("sendCounters"),
                           InstanceMethod<&TunDevice::Close>("close"),
                       });
  }

  // new TunDevice({ path, name, tap, offloads, netnsPath, slab: Uint8Array, lengths: Uint32Array, slotSize })
  explicit TunDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunDevice>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "TunDevice expects an options object").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object options = info[0].As<Napi::Object>();
    Napi::Value slab = options.Get("slab");
    Napi::Value lengths = options.Get("lengths");
    Napi::Value slotSize = options.Get("slotSize");
    if (!options.Get("path").IsString() || !options.Get("name").IsString() || !slab.IsTypedArray() ||
        slab.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !lengths.IsTypedArray() ||
        lengths.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array || !slotSize.IsNumber()) {
      Napi::TypeError::New(env, "TunDevice options need path, name, slab, lengths and slotSize")
          .ThrowAsJavaScriptException();
      return;
    }
    Napi::Uint8Array slabArray = slab.As<Napi::Uint8Array>();
    Napi::Uint32Array lengthsArray = lengths.As<Napi::Uint32Array>();
    slotSize_ = slotSize.As<Napi::Number>().Uint32Value();
    slotCount_ = static_cast<uint32_t>(lengthsArray.ElementLength());
    if (slotSize_ == 0 || slotCount_ == 0 || slabArray.ByteLength() < size_t{slotSize_} * slotCount_) {
      Napi::RangeError::New(env, "TunDevice slab is smaller than slotSize * lengths.length")
          .ThrowAsJavaScriptException();
      return;
    }
    slab_ = slabArray.Data();
    lengths_ = lengthsArray.Data();
    slabRef_ = Napi::Persistent(slabArray);
    lengthsRef_ = Napi::Persistent(lengthsArray);

    std::string path = options.Get("path").As<Napi::String>().Utf8Value();
    std::string name = options.Get("name").As<Napi::String>().Utf8Value();
    Napi::Value netns = options.Get("netnsPath");
    std::string netnsPath = netns.IsString() ? netns.As<Napi::String>().Utf8Value() : "";
    OpenResult opened = netnsPath.empty() ? OpenCloneDevice(path) : OpenCloneDeviceIn(path, netnsPath);
    if (opened.fd < 0) {
      bool inNamespace = strcmp(opened.syscall, "open") != 0;
      ErrnoError(env, opened.err, opened.syscall, inNamespace ? "cannot enter " + netnsPath : "cannot open " + path)
          .ThrowAsJavaScriptException();
      return;
    }

    bool tap = options.Get("tap").ToBoolean();
    tap_ = tap;
    bool vnet = !tap && options.Get("offloads").ToBoolean();
    struct ifreq request;
    int err = 0;
    for (;;) {
      memset(&request, 0, sizeof request);
      // IFF_TUN_EXCL refuses an existing interface instead of attaching to a persistent one.
      request.ifr_flags = static_cast<short>((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | IFF_TUN_EXCL | (vnet ? IFF_VNET_HDR : 0));
      strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
      err = ioctl(opened.fd, TUNSETIFF, &request) == 0 ? 0 : errno;
      // A kernel without virtio headers on TUN refuses the flag: open a plain device instead.
      if (err != EINVAL || !vnet) break;
      vnet = false;
      offloadProblem_ = "the kernel refuses IFF_VNET_HDR";
    }
    if (err != 0) {
      close(opened.fd);
      ErrnoError(env, err, "ioctl", "cannot create interface").ThrowAsJavaScriptException();
      return;
    }
    reader_.Adopt(opened.fd);
    name_ = std::string(request.ifr_name, strnlen(request.ifr_name, IFNAMSIZ));
    if (vnet) EnableOffloads();
  }

 private:
  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }

  // { fd, vnet } for the native receive path in native/udp.cc, which writes packets here itself;
  // null once closed.
  Napi::Value Descriptor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (reader_.fd() < 0) return env.Null();
    Napi::Object result = Napi::Object::New(env);
    result.Set("fd", reader_.fd());
    result.Set("vnet", vnet_);
    return result;
  }

  // { enabled: ["tso4", ...], problem: "" }: what the kernel took, and why anything is missing.
  Napi::Value Offloads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array enabled = Napi::Array::New(env);
    for (size_t i = 0; i < offloads_.size(); i++) enabled.Set(static_cast<uint32_t>(i), offloads_[i]);
    Napi::Object result = Napi::Object::New(env);
    result.Set("enabled", enabled);
    result.Set("problem", offloadProblem_);
    return result;
  }

  // Asks for TSO and USO with checksum offload, then TSO alone on kernels before USO (6.2). With
  // neither, reads stay plain packets, but coalesced writes still work: virtio headers are on.
  void EnableOffloads() {
    vnet_ = true;
    scratch_.resize(offload::kVnetHdrLen + offload::kMaxIpPacket + 1);
    unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(reader_.fd(), TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) == 0) {
      offloads_ = {"csum", "tso4", "tso6", "uso4", "uso6", "gro"};
    } else if (ioctl(reader_.fd(), TUNSETOFFLOAD, tso) == 0) {
      offloads_ = {"csum", "tso4", "tso6", "gro"};
      offloadProblem_ = std::string("UDP segmentation offload refused (") + strerror(errno) + "), needs kernel 6.2";
    } else {
      offloads_ = {"gro"};
      offloadProblem_ = std::string("TUNSETOFFLOAD refused (") + strerror(errno) + ")";
    }
  }

  // start(onReadable): onReadable(count) after `count` packets were read into the slab, or
  // onReadable(-errno) once when reading failed for good (the interface was deleted).
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (reader_.fd() < 0 || reader_.started() || info.Length() < 1 || !info[0].IsFunction()) {
      Napi::Error::New(env, "start needs an open, not yet started device and a function").ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
      return;
    }
    int status = reader_.Start(loop, info[0].As<Napi::Function>(), "meshboi:tun");
    if (status != 0) ErrnoError(env, -status, "uv_poll_start", "cannot watch the device").ThrowAsJavaScriptException();
  }

  // writeBatch(packets: Uint8Array[], count): the first `count` packets, coalesced where offloads allow.
  void WriteBatch(const Napi::CallbackInfo& info) {
    if (info.Length() < 2 || !info[0].IsArray() || reader_.fd() < 0) return;
    Napi::Array packets = info[0].As<Napi::Array>();
    uint32_t count = std::min(packets.Length(), info[1].As<Napi::Number>().Uint32Value());
    batchData_.clear();
    batchLengths_.clear();
    for (uint32_t i = 0; i < count; i++) {
      Napi::Value packet = packets.Get(i);
      if (!packet.IsTypedArray() || packet.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        counters_[kWriteDropsRejected]++;
        continue;
      }
      Napi::Uint8Array bytes = packet.As<Napi::Uint8Array>();
      if (!vnet_) {
        WriteOne(bytes.Data(), bytes.ByteLength());
        continue;
      }
      batchData_.push_back(bytes.Data());
      batchLengths_.push_back(bytes.ByteLength());
    }
    if (batchData_.empty()) return;
    coalescer_.Plan(batchData_.data(), batchLengths_.data(), batchData_.size());
    iovec vectors[offload::kMaxGroupSegments + 1];
    for (const offload::Write& write : coalescer_.writes()) {
      size_t used = coalescer_.Iovecs(write, vectors);
      size_t bytes = 0;
      for (size_t i = 0; i < used; i++) bytes += vectors[i].iov_len;
      if (Deposit(vectors, used, bytes - offload::kVnetHdrLen, write.segments) && write.segments > 1) {
        counters_[kSuperPacketsWritten]++;
      }
    }
  }

  // The device's counters (Counter), then the native send path's (fast::SendCounter), then its armed peers.
  void ReadCounters(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsTypedArray()) return;
    Napi::Float64Array out = info[0].As<Napi::Float64Array>();
    size_t at = 0;
    for (size_t i = 0; i < kCounterCount && at < out.ElementLength(); i++) out[at++] = counters_[i];
    for (size_t i = 0; i < fast::kSendCounterCount && at < out.ElementLength(); i++) out[at++] = send_.counters()[i];
    if (at < out.ElementLength()) out[at++] = static_cast<double>(send_.armed());
    // This addon's own copy of batch::gsoRefusedErrno: the UDP addon keeps another.
    if (at < out.ElementLength()) out[at] = batch::gsoRefusedErrno;
  }

  // attachSocket(fd): the UDP socket the native send path sends through; -1 stops (disarm every peer first).
  void AttachSocket(const Napi::CallbackInfo& info) {
    send_.AttachSocket(info[0].As<Napi::Number>().Int32Value(), slotCount_, slotSize_ + kRecordRoom);
  }

  // armSend(vpn, sockaddr, kind, key, iv, epoch, next, maxPacket) -> whether packets to `vpn` are
  // now sealed here; from then on this device owns the session's write sequence numbers.
  Napi::Value ArmSend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    fast::Destination destination;
    Napi::Buffer<uint8_t> address = info[1].As<Napi::Buffer<uint8_t>>();
    std::string kind = info[2].As<Napi::String>().Utf8Value();
    Napi::Uint8Array key = info[3].As<Napi::Uint8Array>();
    Napi::Uint8Array iv = info[4].As<Napi::Uint8Array>();
    uint32_t epoch = info[5].As<Napi::Number>().Uint32Value();
    double next = info[6].As<Napi::Number>().DoubleValue();
    double maxPacket = info[7].As<Napi::Number>().DoubleValue();
    if (reader_.fd() < 0 || tap_ || epoch == 0 || epoch > 0xffff || next < 0 || !DestinationOf(info[0], &destination)) {
      return Napi::Boolean::New(env, false);
    }
    size_t limit = maxPacket >= static_cast<double>(record::kMaxPlaintext) ? record::kMaxPlaintext : static_cast<size_t>(maxPacket);
    bool armed = send_.Arm(destination, address.Data(), address.Length(), kind, key.Data(), key.ByteLength(), iv.Data(), iv.ByteLength(),
                           static_cast<uint16_t>(epoch), static_cast<uint64_t>(next), limit);
    return Napi::Boolean::New(env, armed);
  }

  // disarmSend(vpn) -> the session's next write sequence number, or null when it was not armed.
  Napi::Value DisarmSend(const Napi::CallbackInfo& info) {
    fast::Destination destination;
    uint64_t next = 0;
    if (!DestinationOf(info[0], &destination) || !send_.Disarm(destination, &next)) return info.Env().Null();
    return Napi::Number::New(info.Env(), static_cast<double>(next));
  }

  // takeSequence(vpn) -> the next write sequence number of an armed peer, taken, or null.
  Napi::Value TakeSequence(const Napi::CallbackInfo& info) {
    fast::Destination destination;
    uint64_t sequence = 0;
    if (!DestinationOf(info[0], &destination) || !send_.TakeSequence(destination, &sequence)) return info.Env().Null();
    return Napi::Number::New(info.Env(), static_cast<double>(sequence));
  }

  // sendCounters(vpn, out: Float64Array): [packets, bytes] sealed natively for one armed peer.
  void SendCounters(const Napi::CallbackInfo& info) {
    fast::Destination destination;
    Napi::Float64Array out = info[1].As<Napi::Float64Array>();
    if (out.ElementLength() < 2) return;
    const fast::WriteSession* session = DestinationOf(info[0], &destination) ? send_.Find(destination) : nullptr;
    out[0] = session ? session->packets : 0;
    out[1] = session ? session->bytes : 0;
  }

  void Close(const Napi::CallbackInfo&) { reader_.Close(); }

  // A peer's VPN address from JavaScript (a Uint8Array) as the native send path's key; false
  // unless it is 4 or 16 bytes.
  static bool DestinationOf(const Napi::Value& vpn, fast::Destination* destination) {
    Napi::Uint8Array bytes = vpn.As<Napi::Uint8Array>();
    return fast::MakeDestination(bytes.Data(), bytes.ByteLength(), destination);
  }

  void WriteOne(const uint8_t* packet, size_t length) {
    static const uint8_t kZeroHeader[offload::kVnetHdrLen] = {};
    iovec vectors[2] = {{const_cast<uint8_t*>(kZeroHeader), offload::kVnetHdrLen}, {const_cast<uint8_t*>(packet), length}};
    if (vnet_) {
      Deposit(vectors, 2, length, 1);
    } else {
      Deposit(vectors + 1, 1, length, 1);
    }
  }

  // A write the kernel refuses is a drop, never an exception: EAGAIN/ENOBUFS mean the queue was
  // full, anything else (EIO while the link is down, EINVAL for a non-IP packet) a rejection.
  bool Deposit(const iovec* vectors, size_t count, size_t packetBytes, size_t packets) {
    if (reader_.fd() < 0) return false;
    for (;;) {
      if (writev(reader_.fd(), vectors, static_cast<int>(count)) >= 0) {
        counters_[kPacketsWritten] += static_cast<double>(packets);
        counters_[kBytesWritten] += static_cast<double>(packetBytes);
        return true;
      }
      if (errno == EINTR) continue;
      counters_[errno == EAGAIN || errno == ENOBUFS ? kWriteDropsFull : kWriteDropsRejected] += static_cast<double>(packets);
      return false;
    }
  }

  // Hands out the slab's slots to the segmenter; a full slab goes to JavaScript first, which is
  // done with it when Deliver returns.
  struct SlotSink {
    TunDevice* device;
    uint32_t count;
    uint8_t* Take(size_t length) {
      if (length >= device->slotSize_) return nullptr;
      if (count == device->slotCount_) {
        device->counters_[kReadBatches]++;
        device->DeliverSlots(count);
        count = 0;
        if (device->reader_.fd() < 0) return nullptr;
      }
      device->lengths_[count] = static_cast<uint32_t>(length);
      device->counters_[kPacketsRead]++;
      device->counters_[kBytesRead] += static_cast<double>(length);
      return device->slab_ + size_t{device->slotSize_} * count++;
    }
  };

  // One read with a virtio header, cut into slots. Returns the read's length, as read(2) does.
  ssize_t ReadOffloaded(SlotSink& sink) {
    ssize_t length = read(reader_.fd(), scratch_.data(), scratch_.size());
    if (length <= 0) return length;
    virtio_net_hdr hdr;
    if (static_cast<size_t>(length) <= offload::kVnetHdrLen) {
      counters_[kReadErrors]++;
      return length;
    }
    memcpy(&hdr, scratch_.data(), offload::kVnetHdrLen);
    int made = offload::Segment(hdr, scratch_.data() + offload::kVnetHdrLen, length - offload::kVnetHdrLen, sink);
    if (made < 0) counters_[kReadErrors]++;
    if (made > 1) counters_[kSuperPacketsRead]++;
    return length;
  }

  // Reads at most one slab's worth of times so one busy device cannot starve the rest of the loop;
  // the level-triggered poll fires again for whatever is left.
  void ReadBatch(int status) {
    SlotSink sink{this, 0};
    uint32_t& count = sink.count;
    int failure = status < 0 ? -status : 0;
    for (uint32_t attempt = 0; failure == 0 && reader_.fd() >= 0 && count < slotCount_ && attempt < slotCount_; attempt++) {
      uint8_t* slot = slab_ + size_t{slotSize_} * count;
      ssize_t length = vnet_ ? ReadOffloaded(sink) : read(reader_.fd(), slot, slotSize_);
      if (vnet_ && length > 0) {
        continue;
      } else if (length > 0 && static_cast<size_t>(length) < slotSize_) {
        lengths_[count++] = static_cast<uint32_t>(length);
        counters_[kPacketsRead]++;
        counters_[kBytesRead] += static_cast<double>(length);
      } else if (length < 0 && errno == EAGAIN) {
        break;
      } else if (length < 0 && errno == EINTR) {
        continue;
      } else if (length < 0 && errno == EBADFD) {
        failure = errno;
      } else {
        // A packet filling the whole slot may have been cut short (the MTU was raised behind our
        // back); it and other one-off read errors are counted and skipped.
        counters_[kReadErrors]++;
      }
    }
    if (count > 0) {
      counters_[kReadBatches]++;
      DeliverSlots(count);
    }
    if (failure != 0 && reader_.started()) {
      // The interface is gone: stop watching before telling JavaScript, which will close us.
      reader_.Stop();
      reader_.Deliver(-failure);
    }
  }

  // The native send path takes the packets of armed peers; the rest move down to the first slots
  // and go to JavaScript, in the order they were read.
  void DeliverSlots(uint32_t count) {
    uint32_t kept = 0;
    for (uint32_t slot = 0; slot < count; slot++) {
      uint8_t* packet = slab_ + size_t{slotSize_} * slot;
      uint32_t length = lengths_[slot];
      if (send_.Take(packet, length)) continue;
      if (kept != slot) {
        memcpy(slab_ + size_t{slotSize_} * kept, packet, length);
        lengths_[kept] = length;
      }
      kept++;
    }
    send_.Flush();
    if (kept > 0) reader_.Deliver(static_cast<int>(kept));
  }

  // Room a record needs beyond its packet: header, explicit nonce and tag.
  static constexpr size_t kRecordRoom = 64;

  std::string name_;
  bool vnet_ = false;
  bool tap_ = false;
  fast::Send send_;
  std::vector<std::string> offloads_;
  std::string offloadProblem_;
  std::vector<uint8_t> scratch_;
  offload::Coalescer coalescer_;
  std::vector<const uint8_t*> batchData_;
  std::vector<size_t> batchLengths_;
  uint8_t* slab_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint32_t slotSize_ = 0;
  uint32_t slotCount_ = 0;
  Napi::Reference<Napi::Uint8Array> slabRef_;
  Napi::Reference<Napi::Uint32Array> lengthsRef_;
  double counters_[kCounterCount] = {};
  // Owns the descriptor; closing it (close(), or the device collected) deletes a non-persistent interface.
  io::PollReader<TunDevice, &TunDevice::ReadBatch> reader_{this};
};

// The codecs without a device, for tests. segment(headerAndPacket, capacity) cuts what a read
// with a virtio header returned into packets of at most capacity - 1 bytes; null when refused.
Napi::Value SegmentForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array input = info[0].As<Napi::Uint8Array>();
  size_t capacity = info[1].As<Napi::Number>().Uint32Value();
  if (input.ByteLength() < offload::kVnetHdrLen) return env.Null();
  std::vector<uint8_t> copy(input.Data(), input.Data() + input.ByteLength());
  virtio_net_hdr hdr;
  memcpy(&hdr, copy.data(), offload::kVnetHdrLen);
  struct VectorSink {
    size_t capacity;
    std::vector<std::vector<uint8_t>> packets;
    uint8_t* Take(size_t length) {
      if (length >= capacity) return nullptr;
      packets.emplace_back(length);
      return packets.back().data();
    }
  } sink{capacity, {}};
  int made = offload::Segment(hdr, copy.data() + offload::kVnetHdrLen, copy.size() - offload::kVnetHdrLen, sink);
  if (made < 0) return env.Null();
  Napi::Array result = Napi::Array::New(env, sink.packets.size());
  for (size_t i = 0; i < sink.packets.size(); i++) {
    result.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, sink.packets[i].data(), sink.packets[i].size()));
  }
  return result;
}

// coalesce(packets) -> what a batch write would hand the kernel: one Buffer per write, virtio header first.
Napi::Value CoalesceForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array packets = info[0].As<Napi::Array>();
  std::vector<const uint8_t*> data;
  std::vector<size_t> lengths;
  for (uint32_t i = 0; i < packets.Length(); i++) {
    Napi::Uint8Array packet = packets.Get(i).As<Napi::Uint8Array>();
    data.push_back(packet.Data());
    lengths.push_back(packet.ByteLength());
  }
  offload::Coalescer coalescer;
  coalescer.Plan(data.data(), lengths.data(), data.size());
  Napi::Array result = Napi::Array::New(env, coalescer.writes().size());
  iovec vectors[offload::kMaxGroupSegments + 1];
  for (size_t w = 0; w < coalescer.writes().size(); w++) {
    size_t used = coalescer.Iovecs(coalescer.writes()[w], vectors);
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < used; i++) {
      const uint8_t* start = static_cast<const uint8_t*>(vectors[i].iov_base);
      bytes.insert(bytes.end(), start, start + vectors[i].iov_len);
    }
    result.Set(static_cast<uint32_t>(w), Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  }
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunDevice", TunDevice::Define(env));
  Napi::Object codec = Napi::Object::New(env);
  codec.Set("segment", Napi::Function::New(env, SegmentForTest));
  codec.Set("coalesce", Napi::Function::New(env, CoalesceForTest));
  exports.Set("offloadCodec", codec);
  return exports;
}

}  // namespace

NODE_API_MODULE(meshboi_tun, Init)
