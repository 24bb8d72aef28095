// The TUN/TAP addon: opens /dev/net/tun, reads packet batches when libuv reports readiness and
// writes with write(2). Only src/tun/linux.ts loads it; JavaScript owns the read slab, so packets
// reach handlers as views into it without a copy.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

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
                           InstanceMethod<&TunDevice::Start>("start"),
                           InstanceMethod<&TunDevice::Write>("write"),
                           InstanceMethod<&TunDevice::WriteBatch>("writeBatch"),
                           InstanceMethod<&TunDevice::ReadCounters>("readCounters"),
                           InstanceMethod<&TunDevice::Close>("close"),
                       });
  }

  // new TunDevice({ path, name, tap, netnsPath, slab: Uint8Array, lengths: Uint32Array, slotSize })
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

    struct ifreq request;
    memset(&request, 0, sizeof request);
    // IFF_TUN_EXCL refuses an existing interface instead of attaching to a persistent one.
    request.ifr_flags = static_cast<short>((options.Get("tap").ToBoolean() ? IFF_TAP : IFF_TUN) | IFF_NO_PI |
                                           IFF_TUN_EXCL);
    strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(opened.fd, TUNSETIFF, &request) != 0) {
      int err = errno;
      close(opened.fd);
      ErrnoError(env, err, "ioctl", "cannot create interface").ThrowAsJavaScriptException();
      return;
    }
    fd_ = opened.fd;
    name_ = std::string(request.ifr_name, strnlen(request.ifr_name, IFNAMSIZ));
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  }

  ~TunDevice() override { Shutdown(); }

 private:
  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }

  // start(onReadable): onReadable(count) after `count` packets were read into the slab, or
  // onReadable(-errno) once when reading failed for good (the interface was deleted).
  void Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0 || poll_ != nullptr || info.Length() < 1 || !info[0].IsFunction()) {
      Napi::Error::New(env, "start needs an open, not yet started device and a function").ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    poll_->data = this;
    int status = uv_poll_init(loop, poll_, fd_);
    if (status == 0) status = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (status != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
      poll_ = nullptr;
      ErrnoError(env, -status, "uv_poll_start", "cannot watch the device").ThrowAsJavaScriptException();
      return;
    }
    onReadable_ = Napi::Persistent(info[0].As<Napi::Function>());
    asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "meshboi:tun");
    // The poll handle points at this object: keep it alive while the handle can fire.
    Ref();
  }

  void Write(const Napi::CallbackInfo& info) {
    if (info.Length() > 0 && info[0].IsTypedArray()) WritePacket(info[0].As<Napi::Uint8Array>());
  }

  void WriteBatch(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsArray()) return;
    Napi::Array packets = info[0].As<Napi::Array>();
    uint32_t count = packets.Length();
    for (uint32_t i = 0; i < count; i++) {
      Napi::Value packet = packets.Get(i);
      if (packet.IsTypedArray()) WritePacket(packet.As<Napi::Uint8Array>());
    }
  }

  void ReadCounters(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsTypedArray()) return;
    Napi::Float64Array out = info[0].As<Napi::Float64Array>();
    for (size_t i = 0; i < kCounterCount && i < out.ElementLength(); i++) out[i] = counters_[i];
  }

  void Close(const Napi::CallbackInfo&) { Shutdown(); }

  // A write the kernel refuses is a drop, never an exception: EAGAIN/ENOBUFS mean the queue was
  // full, anything else (EIO while the link is down, EINVAL for a non-IP packet) a rejection.
  void WritePacket(const Napi::Uint8Array& packet) {
    if (fd_ < 0) return;
    if (packet.TypedArrayType() != napi_uint8_array) {
      counters_[kWriteDropsRejected]++;
      return;
    }
    for (;;) {
      ssize_t written = write(fd_, packet.Data(), packet.ByteLength());
      if (written >= 0) {
        counters_[kPacketsWritten]++;
        counters_[kBytesWritten] += static_cast<double>(written);
        return;
      }
      if (errno == EINTR) continue;
      counters_[errno == EAGAIN || errno == ENOBUFS ? kWriteDropsFull : kWriteDropsRejected]++;
      return;
    }
  }

  static void OnReadable(uv_poll_t* handle, int status, int) {
    static_cast<TunDevice*>(handle->data)->ReadBatch(status);
  }

  // Reads at most one slab of packets so one busy device cannot starve the rest of the loop; the
  // level-triggered poll fires again for whatever is left.
  void ReadBatch(int status) {
    uint32_t count = 0;
    int failure = status < 0 ? -status : 0;
    for (uint32_t attempt = 0; failure == 0 && count < slotCount_ && attempt < slotCount_; attempt++) {
      uint8_t* slot = slab_ + size_t{slotSize_} * count;
      ssize_t length = read(fd_, slot, slotSize_);
      if (length > 0 && static_cast<size_t>(length) < slotSize_) {
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
      Deliver(static_cast<int>(count));
    }
    if (failure != 0 && poll_ != nullptr) {
      // The interface is gone: stop watching before telling JavaScript, which will close us.
      uv_poll_stop(poll_);
      Deliver(-failure);
    }
  }

  void Deliver(int value) {
    if (fd_ < 0 || onReadable_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    onReadable_.MakeCallback(Value(), {Napi::Number::New(env, value)}, *asyncContext_);
    // No JavaScript frame is below a libuv callback: a throwing handler becomes an uncaught exception.
    if (env.IsExceptionPending()) {
      Napi::Error error = env.GetAndClearPendingException();
      napi_fatal_exception(env, error.Value());
    }
  }

  static void OnPollClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  // Worker termination or process exit with the device still open.
  static void OnEnvCleanup(void* self) { static_cast<TunDevice*>(self)->Shutdown(); }

  // Idempotent. Closing the last descriptor of a non-persistent device deletes the interface.
  void Shutdown() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
      poll_ = nullptr;
      onReadable_.Reset();
      Unref();
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
      napi_remove_env_cleanup_hook(Env(), OnEnvCleanup, this);
    }
  }

  int fd_ = -1;
  std::string name_;
  uint8_t* slab_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint32_t slotSize_ = 0;
  uint32_t slotCount_ = 0;
  Napi::Reference<Napi::Uint8Array> slabRef_;
  Napi::Reference<Napi::Uint32Array> lengthsRef_;
  Napi::FunctionReference onReadable_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  uv_poll_t* poll_ = nullptr;
  double counters_[kCounterCount] = {};
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunDevice", TunDevice::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshboi_tun, Init)
