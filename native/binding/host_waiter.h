// The loop's place in the host when it has no fd libuv could watch (Windows: the
// AFD poller reports on an I/O completion port). A waiter thread parks in the loop
// (loop_park: blocked in GetQueuedCompletionStatusEx) and, when something is ready,
// asks the loop's JS thread to run one iteration through a thread-safe function
// (a uv_async_t underneath). One hop per wake-up from idle; while the loop is busy
// the waiter stays parked until the loop has taken what it found. The batch
// protocol and the JS side are the same as with uv_poll.
//
// Lifetime: the state is freed by the thread-safe function's finalizer, which may
// run before the owner's teardown (environment cleanup) or after it (stop()).
// Either way the waiter is joined before the loop can be destroyed.
#pragma once
#include <node_api.h>

#include <thread>

#include "loop/loop.h"
#include "rn.h"

namespace ringnet_host {

class waiter {
 public:
  using run_fn = void (*)(void* owner);

  // Starts the waiter; *slot points at it until stop() or the finalizer clears it.
  static napi_status start(napi_env env, rn::loop* l, run_fn run, void* owner, waiter** slot) {
    waiter* w = new waiter;
    w->loop_ = l;
    w->run_ = run;
    w->owner_ = owner;
    w->slot_ = slot;
    napi_value name;
    napi_create_string_utf8(env, "ringnet.loop.waiter", NAPI_AUTO_LENGTH, &name);
    napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, w, &waiter::Finalize, w,
                                                     &waiter::CallJs, &w->tsfn_);
    if (st != napi_ok) {
      delete w;
      return st;
    }
    w->th_ = std::thread([w] { w->Park(); });
    *slot = w;
    return napi_ok;
  }

  // Loop thread, before loop_destroy: join the waiter and let the finalizer free us.
  void stop() {
    rn::loop_unpark(loop_);
    if (th_.joinable()) th_.join();
    owner_ = nullptr;
    if (slot_) *slot_ = nullptr;
    slot_ = nullptr;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  }

 private:
  rn::loop* loop_ = nullptr;
  run_fn run_ = nullptr;
  void* owner_ = nullptr;
  waiter** slot_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  std::thread th_;

  void Park() {
    for (;;) {
      int r = rn::loop_park(loop_, -1);
      if (r == -ECANCELED || (r < 0 && r != -EINTR)) return;
      if (r > 0 && napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking) != napi_ok) return;
    }
  }

  static void CallJs(napi_env env, napi_value, void* ctx, void*) {
    auto* w = static_cast<waiter*>(ctx);
    if (env && w->owner_) w->run_(w->owner_);
  }

  static void Finalize(napi_env, void* data, void*) {
    auto* w = static_cast<waiter*>(data);
    if (w->th_.joinable()) {  // environment teardown came first
      rn::loop_unpark(w->loop_);
      w->th_.join();
    }
    if (w->slot_) *w->slot_ = nullptr;
    delete w;
  }
};

}  // namespace ringnet_host
