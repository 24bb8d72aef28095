// A descriptor that an addon object reads whenever libuv reports it readable on the main loop, and
// the JavaScript callback each batch goes to: the watching, delivery and shutdown that native/tun.cc's
// device and native/udp.cc's receiver share; how they read stays theirs.
#pragma once

#include <napi.h>
#include <unistd.h>
#include <uv.h>

#include <memory>

namespace io {

// Owner is the Napi::ObjectWrap that embeds the reader; Read(status) runs on each readiness, status
// < 0 when libuv reports an error. Both are template arguments so the poll callback calls Read
// directly, with no indirection per batch.
template <typename Owner, void (Owner::*Read)(int)>
class PollReader {
 public:
  explicit PollReader(Owner* owner) : owner_(owner) {}
  PollReader(const PollReader&) = delete;
  PollReader& operator=(const PollReader&) = delete;
  ~PollReader() { Close(); }

  // -1 once closed.
  int fd() const { return fd_; }
  bool started() const { return poll_ != nullptr; }

  // Takes `fd` over. It is closed by Close(), and at the latest when the environment is torn down
  // (worker termination or process exit with the owner still open).
  void Adopt(int fd) {
    fd_ = fd;
    napi_add_env_cleanup_hook(owner_->Env(), OnEnvCleanup, this);
  }

  // Watches the descriptor; from then on Deliver calls `callback`. Returns 0, or the libuv error
  // that kept the watch from starting (the reader is then as before).
  int Start(uv_loop_t* loop, Napi::Function callback, const char* resource) {
    poll_ = new uv_poll_t;
    poll_->data = owner_;
    int status = uv_poll_init(loop, poll_, fd_);
    if (status == 0) status = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (status != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
      poll_ = nullptr;
      return status;
    }
    callback_ = Napi::Persistent(callback);
    asyncContext_ = std::make_unique<Napi::AsyncContext>(owner_->Env(), resource);
    // The poll handle points at the owner: keep it alive while the handle can fire.
    owner_->Ref();
    return 0;
  }

  // Stops the handle firing and leaves the rest to Close(): for a descriptor that failed for good,
  // before JavaScript hears of it and closes the owner.
  void Stop() {
    if (poll_ != nullptr) uv_poll_stop(poll_);
  }

  // callback(value), unless the owner was closed meanwhile.
  void Deliver(double value) {
    if (fd_ < 0 || callback_.IsEmpty()) return;
    Napi::Env env = owner_->Env();
    Napi::HandleScope scope(env);
    callback_.MakeCallback(owner_->Value(), {Napi::Number::New(env, value)}, *asyncContext_);
    // No JavaScript frame is below a libuv callback: a throwing handler becomes an uncaught exception.
    if (env.IsExceptionPending()) {
      Napi::Error error = env.GetAndClearPendingException();
      napi_fatal_exception(env, error.Value());
    }
  }

  // Idempotent. The handle stops before the descriptor closes, so no batch is delivered after it.
  void Close() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
      poll_ = nullptr;
      callback_.Reset();
      owner_->Unref();
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
      napi_remove_env_cleanup_hook(owner_->Env(), OnEnvCleanup, this);
    }
  }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int) { (static_cast<Owner*>(handle->data)->*Read)(status); }
  static void OnPollClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }
  static void OnEnvCleanup(void* self) { static_cast<PollReader*>(self)->Close(); }

  Owner* owner_;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
};

}  // namespace io
