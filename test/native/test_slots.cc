// slot_table: (slot, generation) names, reuse, and stale names.
#include <set>
#include <string>

#include "check.h"
#include "mem/slots.h"

using rn::slot_table;

TEST(acquire_until_full) {
  slot_table<int> t(4);
  CHECK_EQ(t.capacity(), 4u);
  std::set<int64_t> got;
  for (int i = 0; i < 4; i++) {
    int64_t s = t.acquire();
    CHECK(s >= 0 && s < 4);
    got.insert(s);
  }
  CHECK_EQ(got.size(), 4u);
  CHECK_EQ(t.count(), 4u);
  CHECK_EQ(t.acquire(), -1);  // exhausted
  CHECK_EQ(t.count(), 4u);
  t.release(2);
  CHECK_EQ(t.acquire(), 2);
  CHECK_EQ(t.acquire(), -1);
}

TEST(generation_bumps_on_release) {
  slot_table<int> t(2);
  uint32_t s = static_cast<uint32_t>(t.acquire());
  uint32_t g = t.gen(s);
  CHECK(g != 0);
  CHECK(t.live(s, g));
  CHECK(t.used(s));
  t.release(s);
  CHECK(!t.used(s));
  CHECK(!t.live(s, g));  // a name is not live once released
  CHECK_EQ(t.gen(s), g + 1);
  CHECK(!t.live(s, g + 1));  // nor is the next generation before reuse
  CHECK_EQ(static_cast<uint32_t>(t.acquire()), s);  // LIFO reuse
  CHECK(t.live(s, g + 1));
  CHECK(!t.live(s, g));  // the stale name stays stale after reuse
}

TEST(double_release_is_harmless) {
  slot_table<int> t(2);
  uint32_t s = static_cast<uint32_t>(t.acquire());
  uint32_t g = t.gen(s);
  t.release(s);
  t.release(s);
  CHECK_EQ(t.gen(s), g + 1);  // not bumped twice
  CHECK_EQ(t.count(), 0u);
  CHECK(t.acquire() >= 0);
  CHECK(t.acquire() >= 0);
  CHECK_EQ(t.acquire(), -1);  // the slot was not put on the free list twice
}

TEST(items_reset_on_release) {
  slot_table<std::string> t(1);
  uint32_t s = static_cast<uint32_t>(t.acquire());
  t[s] = "payload";
  t.release(s);
  t.acquire();
  CHECK(t[s].empty());
}

TEST(out_of_range_names) {
  slot_table<int> t(3);
  CHECK(!t.live(3, 1));
  CHECK(!t.live(0xffffffffu, 1));
  CHECK(!t.used(100));
  CHECK(!t.live(0, 0));  // generation 0 never names a connection
  t.acquire();
  CHECK(!t.live(0, 0));
}

TEST(many_cycles_keep_generations_distinct) {
  slot_table<int> t(8);
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (int i = 0; i < 10000; i++) {
    uint32_t s = static_cast<uint32_t>(t.acquire());
    CHECK(seen.insert({s, t.gen(s)}).second);  // every name is issued once
    t.release(s);
  }
  CHECK_EQ(t.count(), 0u);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
