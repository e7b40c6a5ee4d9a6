// taskq: many producers, one consumer, woken through the poller (eventfd on epoll,
// EVFILT_USER on kqueue).

#include <atomic>
#include <thread>
#include <vector>

#include "check.h"
#include "loop/taskq.h"
#include "poller/poller.h"
#include "rn.h"

using rn::task;
using rn::taskq;

namespace {

constexpr uint64_t kToken = 0x5eed;

// A poller with a queue attached, as a loop owns them.
struct queue {
  rn::poller* p = nullptr;
  taskq q;
  queue() {
    CHECK_EQ(rn::poller_create(&p), 0);
    CHECK_EQ(q.open(p, kToken), 0);
  }
  ~queue() { rn::poller_destroy(p); }
  // Did the poller report the queue's wake-up within timeout_ms?
  bool woken(int timeout_ms) {
    rn::poll_event ev[4];
    int n = rn::poller_wait(p, ev, 4, timeout_ms);
    CHECK(n >= 0 && n <= 1);
    if (n == 1) CHECK_EQ(ev[0].token, kToken);
    return n == 1;
  }
};

task make(rn::task_kind kind, uint32_t slot, uint32_t gen) {
  task t;
  t.kind = kind;
  t.slot = slot;
  t.gen = gen;
  return t;
}

}  // namespace

TEST(push_wakes_the_poller) {
  queue w;
  taskq& q = w.q;
  CHECK(!w.woken(0));
  CHECK_EQ(q.push(make(rn::TASK_WAKE, 1, 2)), 0);
  CHECK(w.woken(0));
  CHECK_EQ(q.push(make(rn::TASK_WAKE, 3, 4)), 0);  // already signalled: still one signal
  std::vector<task> out;
  q.drain(&out);
  CHECK_EQ(out.size(), 2u);
  CHECK_EQ(out[0].slot, 1u);
  CHECK_EQ(out[1].slot, 3u);
  CHECK(!w.woken(0));  // drain clears the signal
  out.clear();
  q.drain(&out);  // nothing queued: fine
  CHECK(out.empty());
  CHECK_EQ(q.push(make(rn::TASK_WAKE, 5, 6)), 0);
  CHECK(w.woken(0));  // and the next push signals again
}

TEST(task_data_moves_intact) {
  queue w;
  taskq& q = w.q;
  task t = make(rn::TASK_WRITE, 7, 9);
  t.tag = 42;
  t.data.assign(100000, 0xab);
  CHECK_EQ(q.push(std::move(t)), 0);
  std::vector<task> out;
  q.drain(&out);
  CHECK_EQ(out.size(), 1u);
  CHECK_EQ(out[0].tag, 42u);
  CHECK_EQ(out[0].data.size(), 100000u);
  CHECK_EQ(out[0].data[99999], 0xab);
}

TEST(multi_producer_order) {
  constexpr uint32_t kProducers = 4, kEach = 20000;
  queue w;
  taskq& q = w.q;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < kProducers; p++) {
    threads.emplace_back([&q, &go, p] {
      while (!go.load()) std::this_thread::yield();
      for (uint32_t i = 0; i < kEach; i++) {
        task t = make(rn::TASK_WRITE, p, i);
        if (i % 1000 == 0) t.data.assign(i % 7 + 1, static_cast<uint8_t>(p));
        if (q.push(std::move(t)) != 0) abort();
      }
    });
  }
  go = true;
  std::vector<uint32_t> next(kProducers, 0);
  std::vector<task> out;
  uint32_t total = 0;
  int idle_polls = 0;
  while (total < kProducers * kEach) {
    // Every push after a drain must be followed by a signal: a lost wake-up shows
    // up as a long stretch of waiting with work queued.
    if (!w.woken(1000)) {
      CHECK_MSG(++idle_polls < 5, "no wake-up with %u of %u tasks drained", total, kProducers * kEach);
      continue;
    }
    out.clear();
    q.drain(&out);
    for (const task& t : out) {
      CHECK(t.slot < kProducers);
      CHECK_MSG(t.gen == next[t.slot], "producer %u: got %u, expected %u", t.slot, t.gen, next[t.slot]);
      if (t.gen % 1000 == 0) CHECK_EQ(t.data.size(), t.gen % 7 + 1);
      next[t.slot]++;
      total++;
    }
  }
  for (auto& t : threads) t.join();
  out.clear();
  q.drain(&out);
  CHECK(out.empty());
  for (uint32_t p = 0; p < kProducers; p++) CHECK_EQ(next[p], kEach);
}

TEST(push_after_close_fails) {
  queue w;
  taskq& q = w.q;
  CHECK_EQ(q.push(make(rn::TASK_WAKE, 1, 1)), 0);
  q.close_queue();
  CHECK_EQ(q.push(make(rn::TASK_WAKE, 2, 1)), -ESHUTDOWN);
  std::vector<task> out;
  q.drain(&out);  // what was queued before the close is still delivered
  CHECK_EQ(out.size(), 1u);
  CHECK_EQ(out[0].slot, 1u);
}

TEST(close_races_with_producers) {
  queue w;
  taskq& q = w.q;
  std::atomic<uint32_t> accepted{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < 3; p++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; i++)
        if (q.push(make(rn::TASK_WAKE, 0, 0)) == 0) accepted++;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  q.close_queue();
  for (auto& t : threads) t.join();
  std::vector<task> out;
  q.drain(&out);
  CHECK_EQ(out.size(), accepted.load());  // accepted pushes are never lost
  CHECK_EQ(q.push(make(rn::TASK_WAKE, 0, 0)), -ESHUTDOWN);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
