// A hashed timer wheel: one per loop, driving connection deadlines (idle / read /
// write), dial timeouts, and later the TLS handshake and HTTP header/idle timeouts.
//
// Model: time is cut into ticks of tick_ms; the wheel has 2^slots_log2 slots and a
// timer due at tick T sits in slot T mod slots (timers further than one turn away
// share slots with nearer ones and are skipped until their turn comes). Each timer
// is a timer_node the user embeds in its own object (intrusive: the wheel never
// allocates after init, so a connection's deadline costs its node and nothing
// else); add, re-add and cancel are O(1); advance() visits only the slots whose
// ticks have passed, and a bitmap of non-empty slots lets it and next_timeout()
// skip empty ones 64 at a time.
//
// Guarantees (test/native/test_timer_wheel.cc):
//   - never early: a timer added for due_ms fires in the first advance(now) with
//     now >= due_ms rounded up to a tick boundary, i.e. within one tick after due;
//   - a timer that is due when added (or re-added from inside a callback for a
//     tick already being processed) fires at the next advance, not one turn later;
//   - the callback may add, re-add or cancel any node, including the one firing
//     and others due in the same advance.
//
// Use (one thread: the loop's; no locks):
//   timer_wheel w;  w.init(10, 10, now);           // 10 ms ticks, 1024 slots
//   struct conn { timer_node t; ... };  c.t.owner = slot;
//   w.add(&c.t, now + 30000);                      // re-add moves it
//   w.cancel(&c.t);                                // no-op when not armed
//   int64_t ms = w.next_timeout(now);              // poll timeout; -1 = none
//   w.advance(now, [](void* ud, timer_node* n) { ... }, ud);  // once per iteration
//
// Lifetime: a node must be cancelled (or have fired) before its memory goes; the
// wheel must outlive every armed node. Times are the caller's monotonic
// milliseconds (sys/clock.h mono_ms()); tests pass their own.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rn {

struct timer_node {
  timer_node* next = nullptr;  // null: not armed
  timer_node* prev = nullptr;
  uint64_t due_tick = 0;
  uint32_t owner = 0;  // the user's name for the object (e.g. a connection slot)
  uint32_t kind = 0;   // the user's name for what this timer is for
  bool armed() const { return next != nullptr; }
};

class timer_wheel {
 public:
  using fire_fn = void (*)(void* ud, timer_node* n);

  timer_wheel() = default;
  ~timer_wheel();
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  // tick_ms >= 1, slots_log2 in [6, 16]. Allocates the slot heads and the bitmap
  // once. 0 or -EINVAL / -ENOMEM.
  int init(uint32_t tick_ms, uint32_t slots_log2, uint64_t now_ms);
  // Arm n to fire at due_ms (re-arming an armed node moves it).
  void add(timer_node* n, uint64_t due_ms);
  // Disarm n; nothing happens if it is not armed.
  void cancel(timer_node* n);
  // Fire every timer due by now_ms (each is disarmed before its callback runs).
  // Returns the number fired. Call once per loop iteration.
  size_t advance(uint64_t now_ms, fire_fn fire, void* ud);
  // Milliseconds from now_ms until the next slot holding a timer comes due
  // (0 if one is due already), or -1 when none is armed. A timer more than one
  // turn away may make this answer early: the caller wakes, advance() finds
  // nothing due, and the next answer is right.
  int64_t next_timeout(uint64_t now_ms) const;
  size_t size() const { return count_; }
  uint32_t tick_ms() const { return tick_ms_; }

 private:
  uint64_t tick_of(uint64_t ms) const { return ms / tick_ms_; }
  void link(timer_node* n);
  void unlink(timer_node* n);
  // The first non-empty slot at or after (from & mask), as a distance in slots; -1 if none.
  int64_t next_set(uint64_t from) const;

  timer_node* heads_ = nullptr;  // circular lists with sentinel heads, one per slot
  uint64_t* bits_ = nullptr;     // one bit per non-empty slot
  uint32_t tick_ms_ = 1, mask_ = 0, slots_ = 0;
  uint64_t cur_ = 0;  // every tick <= cur_ has been processed
  size_t count_ = 0;
};

}  // namespace rn
