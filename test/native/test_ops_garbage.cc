// Issue 8: the op decoder and the inbound bookkeeping take garbage from shared
// memory without reading or writing out of bounds (run under ASan/UBSan by
// scripts/ctest.js). Each case is an input the fuzzer (test/fuzz/fuzz_ops.cc)
// found or a field JS can scribble on; the stream must stay intact afterwards.
#include "loop_fixture.h"

using namespace fixture;

namespace {

struct one_conn {
  test_loop t;
  client c{t.bound};
  uint32_t slot = 0, gen = 0;
  one_conn() {
    CHECK(drive(t, {&c}, [&] { return t.count(EV_OPEN) == 1; }));
    slot = static_cast<uint32_t>(t.of_type(EV_OPEN)[0].slot);
    gen = static_cast<uint32_t>(t.of_type(EV_OPEN)[0].gen);
  }
  // A normal write after the garbage still arrives whole.
  void still_works(std::string before = "") {
    std::string msg = random_bytes(5000, 7);
    CHECK(t.op_write(slot, gen, reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
    CHECK_EQ(loop_apply_ops(t.l), 0);
    CHECK(drive(t, {&c}, [&] { return c.in.size() >= before.size() + msg.size(); }));
    CHECK(c.in == before + msg);
  }
};

void negative_count_is_reset() {
  one_conn f;
  f.t.ops()[OP_COUNT] = -500957184;
  CHECK_EQ(loop_apply_ops(f.t.l), 0);
  CHECK_EQ(f.t.ops()[OP_COUNT], 0);
  f.still_works();
}

void count_past_region_is_clamped() {
  one_conn f;
  f.t.ops()[OP_COUNT] = 0x7fffffff;  // records past ops_cap are never read
  CHECK_EQ(loop_apply_ops(f.t.l), 0);
  CHECK_EQ(f.t.ops()[OP_COUNT], 0);
  f.still_works();
}

void write_outside_staging_is_dropped() {
  one_conn f;
  int32_t cap = static_cast<int32_t>(f.t.cfg.staging_size);
  f.t.op(OP_WRITE, f.slot, f.gen, cap - 10, 11);
  f.t.op(OP_WRITE, f.slot, f.gen, -1, 5);
  f.t.op(OP_WRITE, f.slot, f.gen, 0, -1);
  f.t.op(OP_WRITE, f.slot, f.gen, 0x7fffffff, 0x7fffffff);
  f.t.op(OP_WRITE_ARENA, f.slot, f.gen, -1, 1);
  f.t.op(OP_WRITE_REF, f.slot, f.gen, -1, 1);
  f.t.op(OP_WRITE_REF, f.slot, f.gen, 1 << 30, 1);
  f.t.op(0x7fffffff, f.slot, f.gen, 1, 1);  // unknown op
  f.t.op(OP_WRITE, 0xffffff, 1, 0, 1);       // slot past the table
  CHECK_EQ(loop_apply_ops(f.t.l), 0);
  f.still_works();
}

// A zero-length OP_WRITE moved the "end of the last staging iovec" without adding
// one; the next OP_WRITE starting there was merged into the previous iovec (here a
// reference's), which then ran past the reference's memory.
void zero_length_write_does_not_merge_into_another_iovec() {
  one_conn f;
  f.t.refs = {std::string(3000, 'R')};
  f.t.ops()[OP_REFS] = 1;
  f.t.op(OP_WRITE_REF, f.slot, f.gen, 0, 3000);
  f.t.op(OP_WRITE, f.slot, f.gen, 100, 0);
  f.t.op(OP_WRITE, f.slot, f.gen, 100, 3363);
  CHECK_EQ(loop_apply_ops(f.t.l), 0);
  CHECK(drive(f.t, {&f.c}, [&] { return f.c.in.size() >= 3000 + 3363; }));
  CHECK(f.c.in.substr(0, 3000) == std::string(3000, 'R'));
  f.still_works(f.c.in);
}

// CT_START is the one word of the connection table JS writes; any value must leave
// the next read inside the buffer.
void garbage_ct_start_stays_in_bounds() {
  for (int32_t v : {-1, 0x7fffffff, -0x7fffffff, 1 << 20, 3}) {
    one_conn f;
    f.t.handler = [&](test_loop& t, const event& e) {
      if (e.type == EV_DATA) t.row(static_cast<uint32_t>(e.slot))[CT_START] = v;
    };
    f.c.send(random_bytes(200000, 3));
    CHECK(drive(f.t, {&f.c}, [&] { return f.c.done_sending() && f.t.stat(ST_BYTES_IN) >= 200000; }, 3000) ||
          f.t.stat(ST_PAUSES) > 0);
    f.t.handler = nullptr;
    f.still_works();
  }
}

}  // namespace

int main() {
  negative_count_is_reset();
  count_past_region_is_clamped();
  write_outside_staging_is_dropped();
  zero_length_write_does_not_merge_into_another_iovec();
  garbage_ct_start_stays_in_bounds();
  std::puts("ops_garbage: ok");
  return 0;
}
