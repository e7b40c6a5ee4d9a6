// loop_dial (issue 10): a dialed connection opens with EV_OPEN arg = tag and then
// behaves as an accepted one; refused and timed-out dials report EV_DIAL_FAIL.
#include <string>

#include "loop_fixture.h"
#include "sys/clock.h"

using namespace fixture;

namespace {

loop_config config() {
  loop_config c = small_config();
  c.timer_tick_ms = 10;
  return c;
}

}  // namespace

// The loop dials its own listener: both ends live in one loop; bytes written on
// the dialed end come out of the accepted end and back (echo).
TEST(dial_own_listener_and_echo) {
  test_loop t(config());
  int32_t dialed_slot = -1, dialed_gen = -1, accepted_slot = -1;
  std::string got;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type == EV_OPEN && e.arg == 7) {
      dialed_slot = e.slot;
      dialed_gen = e.gen;
    } else if (e.type == EV_OPEN) {
      CHECK_EQ(e.arg, 0);
      accepted_slot = e.slot;
    } else if (e.type == EV_DATA && e.slot == accepted_slot) {
      tl.echo(static_cast<uint32_t>(e.slot), static_cast<uint32_t>(e.gen));
    } else if (e.type == EV_DATA && e.slot == dialed_slot) {
      auto in = tl.inbound(static_cast<uint32_t>(e.slot), static_cast<uint32_t>(e.gen));
      got.append(reinterpret_cast<const char*>(in.first), in.second);
      tl.row(static_cast<uint32_t>(e.slot))[CT_START] = tl.row(static_cast<uint32_t>(e.slot))[CT_END];
    }
  };
  CHECK_EQ(loop_dial(t.l, t.bound, 2000, 7), 0);
  CHECK(run_until(t, [&] { return dialed_slot >= 0 && accepted_slot >= 0; }));
  CHECK(t.live(static_cast<uint32_t>(dialed_slot), static_cast<uint32_t>(dialed_gen)));
  std::string msg = random_bytes(200000, 3);
  CHECK(t.op_write(static_cast<uint32_t>(dialed_slot), static_cast<uint32_t>(dialed_gen),
                   reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  loop_apply_ops(t.l);
  CHECK(run_until(t, [&] { return got.size() >= msg.size(); }));
  CHECK(got == msg);
  // The dial's timeout was cancelled when it connected: nothing fires later.
  CHECK_EQ(loop_next_timeout(t.l), -1);
  CHECK_EQ(t.count(EV_DIAL_FAIL), 0u);
}

TEST(dial_refused) {
  test_loop t(config());
  addr closed_port = dead_port();
  int fds = count_fds();
  CHECK_EQ(loop_dial(t.l, closed_port, 2000, 9), 0);
  CHECK(run_until(t, [&] { return t.count(EV_DIAL_FAIL) == 1; }));
  event e = t.of_type(EV_DIAL_FAIL)[0];
  CHECK_EQ(e.slot, 9);  // the tag
  CHECK_EQ(e.arg, ECONNREFUSED);
  CHECK_EQ(t.count(EV_OPEN), 0u);
  CHECK_EQ(count_fds(), fds);  // the socket was closed
  CHECK_EQ(loop_count(t.l), 0u);
}

// A listener whose accept queue is full drops SYNs (Linux, tcp_abort_on_overflow
// = 0): a dial to it stays in progress until its timeout.
TEST(dial_timeout) {
  test_loop t(config());
  full_listener full(t);
  uint64_t start = mono_ms();
  CHECK_EQ(loop_dial(t.l, full.a, 150, 11), 0);
  CHECK(run_until(t, [&] { return t.count(EV_DIAL_FAIL) + t.count(EV_OPEN) > 0; }));
  uint64_t took = mono_ms() - start;
  CHECK_EQ(t.count(EV_OPEN), 0u);
  event e = t.of_type(EV_DIAL_FAIL)[0];
  CHECK_EQ(e.slot, 11);
  CHECK_EQ(e.arg, ETIMEDOUT);
  CHECK_MSG(took >= 149 && took < 150 + 10 + 100, "timed out after %llu ms", static_cast<unsigned long long>(took));
}

// Closing everything while a dial is in progress fails the dial (ECANCELED): the
// host never sees an EV_CLOSE for a connection it was never told about.
TEST(close_all_cancels_dials) {
  test_loop t(config());
  full_listener full(t);
  CHECK_EQ(loop_dial(t.l, full.a, 0, 12), 0);
  t.run(0);
  loop_close_all(t.l, true);
  loop_deliver(t.l);
  CHECK_EQ(t.count(EV_DIAL_FAIL), 1u);
  CHECK_EQ(t.of_type(EV_DIAL_FAIL)[0].arg, ECANCELED);
  CHECK_EQ(t.count(EV_CLOSE), 0u);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
