// Per-connection deadlines (issue 10) on the loop's timer wheel: idle (no bytes
// either way), read (no inbound bytes), write (queued outbound not drained).
//
// One timer_node per connection, armed at the earliest of its deadlines. Activity
// does not touch the wheel: it only restarts a kind's clock (a store). When the
// node fires, dl_expired() recomputes the deadlines from those clocks and either
// reports the kind that has expired or re-arms the node at the new earliest one
// (the lazy scheme of Linux's TCP keepalive and Netty's IdleStateHandler: busy
// connections cost no wheel operation per read or write).
#pragma once
#include <cstdint>

#include "time/timer_wheel.h"

namespace rn {

enum dl_kind : uint8_t { DL_IDLE = 0, DL_READ = 1, DL_WRITE = 2, DL_KINDS = 3 };

struct conn_deadlines {
  timer_node node;
  uint32_t ms[DL_KINDS] = {0, 0, 0};    // 0: off
  uint64_t since[DL_KINDS] = {0, 0, 0}; // when each kind's clock last restarted
};

// Start (ms > 0) or stop (ms == 0) a kind; its clock restarts now. out_pending:
// the connection has outbound bytes queued (the write clock runs only then).
void dl_set(timer_wheel& w, conn_deadlines& d, dl_kind k, uint32_t ms, uint64_t now, bool out_pending);
// Inbound bytes (or the peer's FIN) arrived.
inline void dl_on_inbound(conn_deadlines& d, uint64_t now) { d.since[DL_IDLE] = d.since[DL_READ] = now; }
// The kernel took outbound bytes.
inline void dl_on_outbound(conn_deadlines& d, uint64_t now) { d.since[DL_IDLE] = now; }
// Outbound bytes were queued on an empty queue: the write clock starts.
void dl_on_queued(timer_wheel& w, conn_deadlines& d, uint64_t now);
// The node fired: the kind that expired (its deadline is switched off, as a
// timeout fires once until set again), or -1 with the node re-armed at the next
// deadline (or left disarmed when none is set).
int dl_expired(timer_wheel& w, conn_deadlines& d, uint64_t now, bool out_pending);
// The connection closes: disarm, forget every kind.
void dl_clear(timer_wheel& w, conn_deadlines& d);

}  // namespace rn
