// Hosts with no pollable fd (poller_fd() == -1: the AFD poller on Windows, where
// readiness arrives on an I/O completion port that libuv cannot watch).
//
// A waiter thread calls poller_park() in a loop: it blocks until the poller has
// something to report and keeps what it took for the poller's own thread, whose next
// poller_wait() reports it (and looks for more without blocking). poller_park does
// not return again until that poller_wait has taken what the last one kept, so the
// waiter signals the loop thread (uv_async_send) at most once per batch.
// poller_unpark() (any thread) makes a parked or later poller_park return -ECANCELED;
// join the waiter before poller_destroy.
#pragma once

namespace rn {

struct poller;

// > 0: the poller's thread should call poller_wait; 0: timed out; -ECANCELED: unparked;
// -ENOSYS: this backend has a pollable fd instead.
int poller_park(poller* p, int timeout_ms);
void poller_unpark(poller* p);

}  // namespace rn
