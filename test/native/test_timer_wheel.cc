// timer_wheel: never early, within one tick, O(1) add/cancel from anywhere
// (callbacks included), and a model check against a plain list of deadlines.
#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "time/timer_wheel.h"

using rn::timer_node;
using rn::timer_wheel;

namespace {

struct item {
  timer_node node;
  uint64_t due = 0;       // when it was asked to fire
  uint64_t fired_at = 0;  // 0: not fired
  int fires = 0;
};

struct harness {
  timer_wheel w;
  std::vector<item> items;
  uint64_t now = 0;
  explicit harness(size_t n, uint32_t tick = 10, uint32_t slots_log2 = 6, uint64_t start = 1000) : items(n), now(start) {
    CHECK_EQ(w.init(tick, slots_log2, start), 0);
    for (size_t i = 0; i < n; i++) items[i].node.owner = static_cast<uint32_t>(i);
  }
  ~harness() {
    for (item& it : items) w.cancel(&it.node);
  }
  static void on_fire(void* ud, timer_node* n) {
    harness* h = static_cast<harness*>(ud);
    item& it = h->items[n->owner];
    CHECK(!n->armed());
    it.fired_at = h->now;
    it.fires++;
  }
  void add(size_t i, uint64_t due) {
    items[i].due = due;
    items[i].fired_at = 0;
    w.add(&items[i].node, due);
  }
  size_t step(uint64_t to) {
    now = to;
    return w.advance(now, &harness::on_fire, this);
  }
};

}  // namespace

TEST(init_rejects_bad_arguments) {
  timer_wheel a, b, c;
  CHECK_EQ(a.init(0, 8, 0), -EINVAL);
  CHECK_EQ(b.init(10, 5, 0), -EINVAL);
  CHECK_EQ(c.init(10, 17, 0), -EINVAL);
  timer_wheel d;
  CHECK_EQ(d.init(10, 8, 0), 0);
  CHECK_EQ(d.init(10, 8, 0), -EINVAL);  // once only
}

// Every timer fires in the first 1 ms step at or after its due time rounded up
// to the tick: never before due, always less than one tick after. Dues span
// many turns of a 64-slot wheel.
TEST(never_early_within_one_tick) {
  harness h(2000);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < h.items.size(); i++) h.add(i, h.now + rng() % 20000);
  CHECK_EQ(h.w.size(), 2000u);
  for (uint64_t t = h.now; t <= 1000 + 20000 + 20; t++) h.step(t);
  for (const item& it : h.items) {
    CHECK_EQ(it.fires, 1);
    CHECK(it.fired_at >= it.due);
    CHECK(it.fired_at < it.due + 10);
  }
  CHECK_EQ(h.w.size(), 0u);
}

TEST(cancel_and_readd) {
  harness h(3);
  h.add(0, 1050);
  h.add(1, 1050);
  h.add(2, 1050);
  h.w.cancel(&h.items[1].node);
  h.w.cancel(&h.items[1].node);  // twice: no-op
  h.add(2, 1500);                // re-add moves it
  CHECK_EQ(h.w.size(), 2u);
  CHECK_EQ(h.step(1049), 0u);
  CHECK_EQ(h.step(1050), 1u);
  CHECK_EQ(h.items[0].fires, 1);
  CHECK_EQ(h.items[1].fires, 0);
  CHECK_EQ(h.items[2].fires, 0);
  CHECK_EQ(h.step(1499), 0u);
  CHECK_EQ(h.step(1500), 1u);
  CHECK_EQ(h.items[2].fires, 1);
}

// A timer added for a time already past fires at the next advance.
TEST(due_when_added_fires_next_advance) {
  harness h(1);
  h.step(5000);
  h.add(0, 10);
  CHECK_EQ(h.step(5000), 0u);  // same tick: advance does nothing
  CHECK_EQ(h.step(5010), 1u);
  CHECK_EQ(h.items[0].fires, 1);
}

namespace {
struct cb_state {
  timer_wheel* w;
  timer_node a, b, c;
  uint64_t now = 0;
  int a_fires = 0, b_fires = 0, c_fires = 0;
};
void cb_fire(void* ud, timer_node* n) {
  cb_state* s = static_cast<cb_state*>(ud);
  if (n == &s->a) {
    s->a_fires++;
    s->w->cancel(&s->b);              // due in the same slot, not yet walked
    if (s->a_fires == 1) s->w->add(&s->a, s->now);  // due now: next advance, not a turn later
    s->w->add(&s->c, s->now + 5);
  } else if (n == &s->b) {
    s->b_fires++;
  } else {
    s->c_fires++;
  }
}
}  // namespace

TEST(callbacks_may_add_and_cancel) {
  cb_state s;
  timer_wheel w;
  CHECK_EQ(w.init(10, 6, 0), 0);
  s.w = &w;
  w.add(&s.a, 100);
  w.add(&s.b, 100);
  s.now = 100;
  CHECK_EQ(w.advance(100, cb_fire, &s), 1u);  // a fired; b cancelled by it
  CHECK_EQ(s.a_fires, 1);
  CHECK_EQ(s.b_fires, 0);
  CHECK(s.a.armed());
  s.now = 110;
  // a again; c (due 105, behind a in the same slot) is moved to 115 by a's
  // callback before the walk reaches it, so it does not fire now.
  CHECK_EQ(w.advance(110, cb_fire, &s), 1u);
  CHECK_EQ(s.a_fires, 2);
  CHECK_EQ(s.c_fires, 0);
  CHECK(s.c.armed());
  s.now = 120;
  CHECK_EQ(w.advance(120, cb_fire, &s), 1u);
  CHECK_EQ(s.c_fires, 1);
  CHECK_EQ(w.size(), 0u);
}

TEST(next_timeout) {
  harness h(2, 10, 6, 0);
  CHECK_EQ(h.w.next_timeout(0), -1);
  h.add(0, 95);  // tick 10 (ms 100)
  CHECK_EQ(h.w.next_timeout(0), 100);
  CHECK_EQ(h.w.next_timeout(42), 58);
  CHECK_EQ(h.w.next_timeout(200), 0);  // overdue
  h.add(1, 35);
  CHECK_EQ(h.w.next_timeout(0), 40);
  h.step(40);
  CHECK_EQ(h.items[1].fires, 1);
  CHECK_EQ(h.w.next_timeout(40), 60);
  // More than one turn away (64 slots x 10 ms): answered early at most once a turn.
  h.w.cancel(&h.items[0].node);
  h.add(0, 40 + 2000);
  int64_t t = h.w.next_timeout(40);
  CHECK(t > 0 && t <= 640);
  h.step(40 + static_cast<uint64_t>(t));
  CHECK_EQ(h.items[0].fires, 0);
  CHECK(h.w.next_timeout(h.now) > 0);
}

// A loop that stalled for many turns fires what is due and nothing else.
TEST(stall_many_turns) {
  harness h(100, 10, 6, 0);
  for (size_t i = 0; i < 100; i++) h.add(i, (i + 1) * 1000);  // 1 s .. 100 s
  CHECK_EQ(h.step(50500), 50u);
  for (size_t i = 0; i < 100; i++) CHECK_EQ(h.items[i].fires, i < 50 ? 1 : 0);
  CHECK_EQ(h.step(200000), 50u);
  CHECK_EQ(h.w.size(), 0u);
}

// Random add / re-add / cancel / advance against a model: after each advance the
// fired set is exactly those with due <= now (rounded up to the tick), nothing
// fires twice, nothing cancelled fires.
TEST(model_check) {
  const size_t n = 5000;
  harness h(n, 7, 6, 123);
  std::mt19937_64 rng(7);
  std::vector<int> armed(n, 0);
  std::vector<uint64_t> due(n, 0), eff_tick(n, 0);
  for (int round = 0; round < 4000; round++) {
    for (int k = 0; k < 20; k++) {
      size_t i = rng() % n;
      if (rng() % 4 == 0) {
        h.w.cancel(&h.items[i].node);
        armed[i] = 0;
      } else {
        uint64_t d = h.now + rng() % 3000;
        h.add(i, d);
        h.items[i].fires = 0;
        armed[i] = 1;
        due[i] = d;
        // Rounded up to its tick, and never a tick already processed.
        uint64_t t = (d + 6) / 7, cur = h.now / 7;
        eff_tick[i] = t > cur ? t : cur + 1;
      }
    }
    h.step(h.now + rng() % 25);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
      if (!armed[i]) continue;
      bool should = eff_tick[i] <= h.now / 7;
      if (h.items[i].fires) {
        CHECK(should);
        CHECK_EQ(h.items[i].fires, 1);
        CHECK(h.items[i].fired_at >= due[i]);
        armed[i] = 0;
      } else {
        CHECK(!should);
        live++;
      }
    }
    CHECK_EQ(h.w.size(), live);
  }
}

int main(int argc, char** argv) { return check::run(argc, argv); }
