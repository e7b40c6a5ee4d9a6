#include "loop/deadlines.h"

namespace rn {

namespace {

// The earliest deadline set, or 0 when none runs.
uint64_t earliest(const conn_deadlines& d, bool out_pending) {
  uint64_t best = 0;
  for (int k = 0; k < DL_KINDS; k++) {
    if (d.ms[k] == 0 || (k == DL_WRITE && !out_pending)) continue;
    uint64_t due = d.since[k] + d.ms[k];
    if (best == 0 || due < best) best = due;
  }
  return best;
}

void rearm(timer_wheel& w, conn_deadlines& d, bool out_pending) {
  uint64_t due = earliest(d, out_pending);
  if (due == 0) {
    w.cancel(&d.node);
  } else if (!d.node.armed() || due < d.node.due_tick * w.tick_ms()) {
    // Armed later than needed: move it earlier. Armed earlier: leave it, the
    // firing re-arms (lazy).
    w.add(&d.node, due);
  }
}

}  // namespace

void dl_set(timer_wheel& w, conn_deadlines& d, dl_kind k, uint32_t ms, uint64_t now, bool out_pending) {
  if (k >= DL_KINDS) return;
  d.ms[k] = ms;
  d.since[k] = now;
  rearm(w, d, out_pending);
}

void dl_on_queued(timer_wheel& w, conn_deadlines& d, uint64_t now) {
  d.since[DL_WRITE] = now;
  if (d.ms[DL_WRITE]) rearm(w, d, true);
}

int dl_expired(timer_wheel& w, conn_deadlines& d, uint64_t now, bool out_pending) {
  // Write first: a stuck writer is also idle, and 'write' says more.
  static const dl_kind order[DL_KINDS] = {DL_WRITE, DL_READ, DL_IDLE};
  for (dl_kind k : order) {
    if (d.ms[k] == 0 || (k == DL_WRITE && !out_pending)) continue;
    if (d.since[k] + d.ms[k] <= now) {
      d.ms[k] = 0;
      rearm(w, d, out_pending);  // the other kinds keep running
      return k;
    }
  }
  rearm(w, d, out_pending);
  return -1;
}

void dl_clear(timer_wheel& w, conn_deadlines& d) {
  w.cancel(&d.node);
  for (int k = 0; k < DL_KINDS; k++) d.ms[k] = 0;
}

}  // namespace rn
