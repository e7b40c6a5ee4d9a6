#include "time/timer_wheel.h"

#include <cerrno>
#include <new>

namespace rn {

timer_wheel::~timer_wheel() {
  delete[] heads_;
  delete[] bits_;
}

int timer_wheel::init(uint32_t tick_ms, uint32_t slots_log2, uint64_t now_ms) {
  if (tick_ms == 0 || slots_log2 < 6 || slots_log2 > 16 || heads_) return -EINVAL;
  slots_ = 1u << slots_log2;
  mask_ = slots_ - 1;
  tick_ms_ = tick_ms;
  heads_ = new (std::nothrow) timer_node[slots_];
  bits_ = new (std::nothrow) uint64_t[slots_ / 64]();
  if (!heads_ || !bits_) {
    delete[] heads_;
    delete[] bits_;
    heads_ = nullptr;
    bits_ = nullptr;
    return -ENOMEM;
  }
  for (uint32_t i = 0; i < slots_; i++) heads_[i].next = heads_[i].prev = &heads_[i];
  cur_ = tick_of(now_ms);
  return 0;
}

void timer_wheel::link(timer_node* n) {
  uint32_t s = static_cast<uint32_t>(n->due_tick) & mask_;
  timer_node* h = &heads_[s];
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
  bits_[s / 64] |= uint64_t{1} << (s % 64);
  count_++;
}

void timer_wheel::unlink(timer_node* n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = nullptr;
  count_--;
  uint32_t s = static_cast<uint32_t>(n->due_tick) & mask_;
  if (heads_[s].next == &heads_[s]) bits_[s / 64] &= ~(uint64_t{1} << (s % 64));
}

void timer_wheel::add(timer_node* n, uint64_t due_ms) {
  if (n->armed()) unlink(n);
  uint64_t t = due_ms / tick_ms_ + (due_ms % tick_ms_ != 0);  // round up: never early
  // A tick already processed would not be visited again for a whole turn.
  if (t <= cur_) t = cur_ + 1;
  n->due_tick = t;
  link(n);
}

void timer_wheel::cancel(timer_node* n) {
  if (n->armed()) unlink(n);
}

int64_t timer_wheel::next_set(uint64_t from) const {
  uint32_t start = static_cast<uint32_t>(from) & mask_;
  uint32_t words = slots_ / 64, w = start / 64;
  uint64_t m = bits_[w] & (~uint64_t{0} << (start % 64));
  // words + 1 looks: the first word from start on, the others, and the first
  // word again for the bits below start.
  for (uint32_t i = 0; i <= words; i++) {
    if (m) {
      uint32_t idx = w * 64 + static_cast<uint32_t>(__builtin_ctzll(m));
      return static_cast<int64_t>((idx - start) & mask_);
    }
    w = (w + 1) % words;
    m = bits_[w];
  }
  return -1;
}

size_t timer_wheel::advance(uint64_t now_ms, fire_fn fire, void* ud) {
  uint64_t now_t = tick_of(now_ms);
  if (now_t <= cur_) return 0;
  uint64_t t = cur_ + 1;
  // One turn covers every slot; a longer gap (a stalled loop) needs no more.
  uint64_t last = now_t - t >= slots_ ? t + slots_ - 1 : now_t;
  // Set first: a callback re-adding a timer due now lands after now_t (see add()).
  cur_ = now_t;
  size_t fired = 0;
  while (t <= last && count_ > 0) {
    int64_t d = next_set(t);
    if (d < 0 || t + static_cast<uint64_t>(d) > last) break;
    t += static_cast<uint64_t>(d);
    timer_node* h = &heads_[t & mask_];
    // Detach the slot so callbacks can add to it (or cancel nodes still in it)
    // while it is walked.
    timer_node local;
    local.next = h->next;
    local.prev = h->prev;
    local.next->prev = &local;
    local.prev->next = &local;
    h->next = h->prev = h;
    uint32_t s = static_cast<uint32_t>(t) & mask_;
    bits_[s / 64] &= ~(uint64_t{1} << (s % 64));
    while (local.next != &local) {
      timer_node* n = local.next;
      n->prev->next = n->next;
      n->next->prev = n->prev;
      if (n->due_tick <= now_t) {
        n->next = n->prev = nullptr;
        count_--;
        fired++;
        fire(ud, n);
      } else {
        count_--;  // link() counts it again
        link(n);
      }
    }
    t++;
  }
  return fired;
}

int64_t timer_wheel::next_timeout(uint64_t now_ms) const {
  if (count_ == 0) return -1;
  int64_t d = next_set(cur_ + 1);
  if (d < 0) return -1;
  uint64_t due = (cur_ + 1 + static_cast<uint64_t>(d)) * tick_ms_;
  return due > now_ms ? static_cast<int64_t>(due - now_ms) : 0;
}

}  // namespace rn
