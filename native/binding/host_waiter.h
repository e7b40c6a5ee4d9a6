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

#include <atomic>
#include <chrono>
#include <cstdint>
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

  // Loop thread, after each iteration: the loop's next deadline in ms (< 0: none).
  // The waiter parks at most kTickCapMs, so a deadline set while it is parked is
  // seen within that; when one passes it runs an iteration (once, until re-armed).
  void set_timeout(int64_t ms) { due_ms_.store(ms < 0 ? 0 : now_ms() + (ms > 0 ? ms : 0) + 1, std::memory_order_release); }

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
  std::atomic<int64_t> due_ms_{0};  // steady-clock ms of the next deadline; 0: none
  static constexpr int64_t kTickCapMs = 50;

  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  void Park() {
    for (;;) {
      int64_t due = due_ms_.load(std::memory_order_acquire);
      int64_t wait = kTickCapMs;
      if (due) wait = due - now_ms() < 0 ? 0 : (due - now_ms() < kTickCapMs ? due - now_ms() : kTickCapMs);
      int r = rn::loop_park(loop_, static_cast<int>(wait));
      if (r == -ECANCELED || (r < 0 && r != -EINTR)) return;
      bool run = r > 0;
      if (r == 0) {
        due = due_ms_.load(std::memory_order_acquire);
        run = due && now_ms() >= due && due_ms_.compare_exchange_strong(due, 0);
      }
      if (run && napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking) != napi_ok) return;
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
