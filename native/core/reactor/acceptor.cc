#include "reactor/acceptor.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

#include "poller/poller.h"
#include "reactor/registry.h"
#include "rn.h"
#include "loop/taskq.h"
#include "transport/listener.h"

namespace rn {

struct acceptor {
  balance bal;
  poller* poll = nullptr;
  taskq wake;  // only its wake-up is used: the stop signal
  std::vector<int> listeners;
  std::mutex loops_mu;  // loops: the engine replaces a failed loop's id from the JS thread
  std::vector<uint32_t> loops;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> accepted{0};
  uint64_t counter = 0;
  int spare_fd = -1;
};

int balance_pick(balance b, uint64_t counter, const std::vector<int64_t>& counts, const addr& peer) {
  int n = static_cast<int>(counts.size());
  if (n == 0) return -1;
  switch (b) {
    case BAL_LEAST_CONN: {
      int best = -1;
      for (int i = 0; i < n; i++) {
        int k = static_cast<int>((counter + static_cast<uint64_t>(i)) % static_cast<uint64_t>(n));  // ties rotate
        if (counts[k] >= 0 && (best < 0 || counts[k] < counts[best])) best = k;
      }
      return best;
    }
    case BAL_SOURCE_HASH: {
      // FNV-1a over the client's IP (not its port): one client host, one loop.
      uint32_t h = 2166136261u;
      for (const char* p = peer.host; *p; p++) h = (h ^ static_cast<uint8_t>(*p)) * 16777619u;
      return static_cast<int>(h % static_cast<uint32_t>(n));
    }
    case BAL_ROUND_ROBIN:
    default:
      return static_cast<int>(counter % static_cast<uint64_t>(n));
  }
}

namespace {

// index: which of the acceptor's listeners took it (the loop picks its TLS context by it).
void hand_off(acceptor* a, int fd, uint32_t index) {
  std::vector<uint32_t> loops;
  {
    std::lock_guard<std::mutex> g(a->loops_mu);
    loops = a->loops;
  }
  size_t n = loops.size();
  std::vector<int64_t> counts(n, 0);
  addr peer;
  if (a->bal == BAL_LEAST_CONN) {
    for (size_t i = 0; i < n; i++) counts[i] = registry_count(loops[i]);
  } else if (a->bal == BAL_SOURCE_HASH) {
    sock_peer(fd, &peer);
  }
  // A loop that has gone (its thread failed, its queue closed) is skipped: the
  // next one in order takes the connection. The pick is made once: picking again
  // per try moved round-robin's counter with the try and landed on the same dead
  // loop every time (issue 8, item 2: 7 of 8 connections closed at once).
  int k = balance_pick(a->bal, a->counter++, counts, peer);
  for (size_t tries = 0; k >= 0 && tries < n; tries++) {
    size_t idx = (static_cast<size_t>(k) + tries) % n;
    if (counts[idx] < 0) continue;
    task t;
    t.kind = TASK_ADOPT;
    t.fd = fd;
    t.slot = index;
    if (registry_post(loops[idx], std::move(t)) == 0) {
      a->accepted.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  sock_close(fd);
}

void accept_all(acceptor* a, uint32_t index) {
  struct at {
    acceptor* a;
    uint32_t index;
  } x{a, index};
  accept_sink sink;
  sink.ud = &x;
  sink.on_fd = [](void* ud, sock_t fd) { hand_off(static_cast<at*>(ud)->a, fd, static_cast<at*>(ud)->index); };
  listener_accept_burst(a->listeners[index], 256, &a->spare_fd, &sink);
}

void run(acceptor* a) {
  poll_event ev[64];
  while (!a->stop.load(std::memory_order_acquire)) {
    int n = poller_wait(a->poll, ev, 64, -1);
    if (n < 0) break;
    for (int i = 0; i < n; i++) {
      uint64_t tok = ev[i].token;
      if (tok == UINT64_MAX) continue;  // wake: the loop condition sees stop
      accept_all(a, static_cast<uint32_t>(tok));
    }
  }
}

}  // namespace

int acceptor_create(balance b, acceptor** out) {
  acceptor* a = new (std::nothrow) acceptor;
  if (!a) return -ENOMEM;
  a->bal = b;
  int err = poller_create(&a->poll);
  if (err == 0) err = a->wake.open(a->poll, UINT64_MAX);
  if (err < 0) {
    acceptor_destroy(a);
    return err;
  }
  a->spare_fd = listener_spare_open();
  *out = a;
  return 0;
}

int acceptor_listen(acceptor* a, const addr& at, const listen_opts& o, addr* bound, const char** failed_call) {
  int fd = listener_open(a->poll, at, o, a->listeners.size(), bound, failed_call);
  if (fd < 0) return fd;
  a->listeners.push_back(fd);
  return 0;
}

int acceptor_start(acceptor* a, const std::vector<uint32_t>& loop_ids) {
  if (a->thread.joinable()) return -EALREADY;
  {
    std::lock_guard<std::mutex> g(a->loops_mu);
    a->loops = loop_ids;
  }
  a->thread = std::thread(run, a);  // built without exceptions: a failed spawn aborts
  return 0;
}

void acceptor_set_loops(acceptor* a, const std::vector<uint32_t>& loop_ids) {
  std::lock_guard<std::mutex> g(a->loops_mu);
  a->loops = loop_ids;
}

void acceptor_destroy(acceptor* a) {
  if (!a) return;
  if (a->thread.joinable()) {
    a->stop.store(true, std::memory_order_release);
    task t;
    t.kind = TASK_STOP;
    a->wake.push(std::move(t));
    a->thread.join();
  }
  for (int fd : a->listeners) listener_close(a->poll, fd);
  listener_spare_close(&a->spare_fd);
  poller_destroy(a->poll);
  delete a;
}

uint64_t acceptor_accepted(const acceptor* a) { return a->accepted.load(std::memory_order_relaxed); }

}  // namespace rn
