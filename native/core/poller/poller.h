// Readiness poller: the small interface every readiness backend implements
// (poller_epoll.cc on Linux, poller_kqueue.cc on macOS/BSD; the build picks one).
// The loop never sees an OS event struct, only {token, mask} records.
//
// Completion backends (IOCP, io_uring) do not fit "tell me what is ready"; they sit
// one level up, behind conn_io (see loop.h), which asks for "read into a buffer /
// send these bytes / accept" and is told "bytes arrived / bytes sent". The epoll and
// kqueue builds implement conn_io with this poller plus read/sendmsg.
#pragma once
#include <cstdint>

namespace rn {

enum : uint32_t {
  POLL_READ = 1u << 0,
  POLL_WRITE = 1u << 1,
  POLL_HANGUP = 1u << 2,  // reported only: peer hung up (not POLL_HUP: a <signal.h> macro on macOS)
  POLL_ERROR = 1u << 3,  // reported only: socket error pending
  POLL_EDGE = 1u << 4,   // requested only: report changes, not levels (see loop/loop.cc)
};

struct poll_event {
  uint64_t token;
  uint32_t mask;
};

struct poller;

int poller_create(poller** out);
void poller_destroy(poller* p);
// The fd a host event loop (libuv) can watch for "something is ready"; -1 if none
// (Windows: see poller/poller_park.h for the waiter-thread host).
int poller_fd(const poller* p);
// Start watching fd for `mask` (POLL_READ|POLL_WRITE); token comes back in events.
int poller_add(poller* p, int fd, uint64_t token, uint32_t mask);
// Replace the interest set of a watched fd.
int poller_mod(poller* p, int fd, uint64_t token, uint32_t mask);
int poller_del(poller* p, int fd);
// Wait up to timeout_ms (0 = just look, -1 = forever); fills at most max events.
int poller_wait(poller* p, poll_event* events, int max, int timeout_ms);
const char* poller_name();
// The poller's thread has handled what the last poller_wait reported (the loop calls
// it at the end of each iteration; poller_wait calls it first too). Backends whose
// registrations are one-shot re-arm the reported fds here (AFD: one poll request per
// socket, re-submitted once the loop has read or written; a socket whose bytes were
// left unread is then reported again, which the edge contract allows: an extra
// report, never a lost one). epoll and kqueue: nothing to do.
void poller_commit(poller* p);

// Cross-thread wake-up. After poller_wake_open(p, token) (once, on the poller's
// thread), poller_wake(p) from any thread makes a poller_wait report {token,
// POLL_READ}; wakes before that wait coalesce into one report. On seeing it, the
// poller's thread calls poller_wake_ack(p) *before* it looks for the work the wakes
// announced, so a wake that lands after the ack is reported again.
// epoll: an eventfd; kqueue: EVFILT_USER + NOTE_TRIGGER (no descriptor at all).
int poller_wake_open(poller* p, uint64_t token);
int poller_wake(poller* p);  // thread-safe while p exists
void poller_wake_ack(poller* p);

}  // namespace rn
