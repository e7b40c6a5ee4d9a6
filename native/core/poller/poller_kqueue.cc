// kqueue backend (macOS, FreeBSD, the other BSDs), behind poller.h.
//
// One fd is up to two knotes: EVFILT_READ and EVFILT_WRITE. POLL_EDGE is EV_CLEAR.
// Every change is sent with EV_RECEIPT, so kevent() answers each change with its
// own EV_ERROR record (data 0 = applied) and drains no pending event while doing
// it; a failed change is never mistaken for, nor hides, a ready fd.
//
// The re-arm contract (poller.h, loop.cc's rearm): EV_ADD on a knote that already
// exists makes the kernel evaluate the filter again and queue the knote if the
// condition holds, EV_CLEAR or not (FreeBSD kqueue_register, XNU kevent_register
// call the filter's f_event / f_touch), which is what EPOLL_CTL_MOD does for epoll.
//
// The wake-up is an EVFILT_USER knote with EV_CLEAR: poller_wake triggers it with
// NOTE_TRIGGER, retrieving it resets it, so poller_wake_ack has nothing to do.
//
// Tested on Linux against test/native/kqueue_emu (kqueue()/kevent() over epoll);
// compiled for macOS by `npm run check:darwin`. See the README for what that does
// and does not prove.
#include "poller/poller.h"
#include "poller/poller_park.h"
#include "rn.h"

#include <fcntl.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <new>
#include <vector>

namespace rn {

namespace {

// Tokens are 64 bits; kevent's udata must carry one whole.
static_assert(sizeof(((struct kevent*)nullptr)->udata) >= sizeof(uint64_t),
              "kqueue backend: udata cannot carry a 64-bit token on this platform");

constexpr int kMaxEvents = 1024;
constexpr uintptr_t kWakeIdent = 1;  // EVFILT_USER idents are their own namespace

void* to_udata(uint64_t token) { return reinterpret_cast<void*>(static_cast<uintptr_t>(token)); }
uint64_t from_udata(const struct kevent& e) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(e.udata)); }

}  // namespace

struct poller {
  int kq;
  // Per fd: kWatched | the filters (POLL_READ, POLL_WRITE) it has knotes for. kqueue
  // itself has no "is this fd watched" answer, and poller.h's contract (add twice,
  // mod or del of an unwatched fd fail) and a mod that only touches the filters
  // that change both need it.
  std::vector<uint8_t> reg;
  bool wake_open = false;
  uint64_t wake_token = 0;
  struct kevent ev[kMaxEvents];
};

namespace {

// Apply up to 2 changes, each with EV_RECEIPT. A delete of a knote that does not
// exist (ENOENT) is what the caller asked for already; any other error is returned.
int apply(poller* p, struct kevent* ch, int n) {
  if (n == 0) return 0;
  struct kevent out[2];
  for (int i = 0; i < n; i++) ch[i].flags |= EV_RECEIPT;
  const timespec zero{0, 0};
  int r;
  do {
    r = kevent(p->kq, ch, n, out, n, &zero);
  } while (r < 0 && errno == EINTR);  // the changes are idempotent: retrying is safe
  if (r < 0) return neg_errno();
  int err = 0;
  for (int j = 0; j < r; j++) {
    if (!(out[j].flags & EV_ERROR) || out[j].data == 0) continue;
    bool was_delete = false;
    for (int i = 0; i < n; i++)
      if (ch[i].filter == out[j].filter) was_delete = (ch[i].flags & EV_DELETE) != 0;
    if (was_delete && out[j].data == ENOENT) continue;
    if (err == 0) err = -static_cast<int>(out[j].data);
  }
  return err;
}

constexpr uint8_t kWatched = 0x80;

// Add (or re-arm) the wanted filters; delete the ones in `had` that are not wanted.
int set_filters(poller* p, int fd, uint64_t token, uint32_t mask, uint8_t had) {
  struct kevent ch[2];
  int n = 0;
  unsigned short add = EV_ADD | EV_ENABLE | ((mask & POLL_EDGE) ? EV_CLEAR : 0);
  if (mask & POLL_READ) {
    EV_SET(&ch[n], fd, EVFILT_READ, add, 0, 0, to_udata(token));
    n++;
  } else if (had & POLL_READ) {
    EV_SET(&ch[n], fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
    n++;
  }
  if (mask & POLL_WRITE) {
    EV_SET(&ch[n], fd, EVFILT_WRITE, add, 0, 0, to_udata(token));
    n++;
  } else if (had & POLL_WRITE) {
    EV_SET(&ch[n], fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
    n++;
  }
  return apply(p, ch, n);
}

uint8_t watched(const poller* p, int fd) { return static_cast<size_t>(fd) < p->reg.size() ? p->reg[fd] : 0; }

// The fd is marked watched but may have been closed since (closing drops its knotes
// without telling us) and its number reused: does the kernel still have a knote?
bool still_watched(poller* p, int fd, uint8_t had) {
  if (!(had & (POLL_READ | POLL_WRITE))) return false;
  struct kevent ch;
  EV_SET(&ch, fd, (had & POLL_READ) ? EVFILT_READ : EVFILT_WRITE, EV_ENABLE, 0, 0, nullptr);
  return apply(p, &ch, 1) != -ENOENT;
}

}  // namespace

int poller_create(poller** out) {
  int fd = kqueue();
  if (fd < 0) return neg_errno();
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  poller* p = new (std::nothrow) poller;
  if (!p) {
    close(fd);
    return -ENOMEM;
  }
  p->kq = fd;
  *out = p;
  return 0;
}

void poller_destroy(poller* p) {
  if (!p) return;
  close(p->kq);  // drops every knote, the wake-up's too
  delete p;
}

int poller_fd(const poller* p) { return p->kq; }

int poller_add(poller* p, int fd, uint64_t token, uint32_t mask) {
  if (fd < 0) return -EBADF;
  uint8_t had = watched(p, fd);
  if (had && still_watched(p, fd, had)) return -EEXIST;
  if (static_cast<size_t>(fd) >= p->reg.size()) p->reg.resize(static_cast<size_t>(fd) + 64, 0);
  int err = set_filters(p, fd, token, mask, had & (POLL_READ | POLL_WRITE));
  if (err < 0) {
    set_filters(p, fd, 0, 0, static_cast<uint8_t>(mask & (POLL_READ | POLL_WRITE)));  // undo half an add
    p->reg[fd] = 0;
    return err;
  }
  p->reg[fd] = static_cast<uint8_t>(kWatched | (mask & (POLL_READ | POLL_WRITE)));
  return 0;
}

// EV_CLEAR is taken when a filter's knote is created; an existing knote keeps the
// edge mode it was created with (the loop never changes an fd's).
int poller_mod(poller* p, int fd, uint64_t token, uint32_t mask) {
  uint8_t had = fd >= 0 ? watched(p, fd) : 0;
  if (!had) return -ENOENT;
  int err = set_filters(p, fd, token, mask, had);
  p->reg[fd] = static_cast<uint8_t>(kWatched | (mask & (POLL_READ | POLL_WRITE)));
  return err;
}

int poller_del(poller* p, int fd) {
  uint8_t had = fd >= 0 ? watched(p, fd) : 0;
  if (!had) return -ENOENT;
  p->reg[fd] = 0;
  return set_filters(p, fd, 0, 0, had);
}

int poller_wait(poller* p, poll_event* events, int max, int timeout_ms) {
  if (max > kMaxEvents) max = kMaxEvents;
  timespec ts, *tsp = nullptr;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
    tsp = &ts;
  }
  int n;
  do {
    n = kevent(p->kq, nullptr, 0, p->ev, max, tsp);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return neg_errno();
  for (int i = 0; i < n; i++) {
    const struct kevent& e = p->ev[i];
    uint32_t m;
    if (e.filter == EVFILT_USER) {
      m = POLL_READ;
    } else if (e.flags & EV_ERROR) {
      m = POLL_ERROR;  // not expected without changes in this call; report, never drop
    } else {
      m = e.filter == EVFILT_WRITE ? POLL_WRITE : POLL_READ;
      // EV_EOF: the peer shut down (read) or nothing more can be sent (write);
      // fflags holds the socket's pending error, if any (a reset).
      if (e.flags & EV_EOF) m |= POLL_HANGUP | (e.fflags != 0 ? static_cast<uint32_t>(POLL_ERROR) : 0u);
    }
    events[i].token = from_udata(e);
    events[i].mask = m;
  }
  return n;
}

void poller_commit(poller*) {}

// The poller fd is pollable: hosts watch it instead (see poller/poller_park.h).
int poller_park(poller*, int) { return -ENOSYS; }
void poller_unpark(poller*) {}

const char* poller_name() { return "kqueue"; }

int poller_wake_open(poller* p, uint64_t token) {
  if (p->wake_open) return -EALREADY;
  struct kevent ch;
  EV_SET(&ch, kWakeIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, to_udata(token));
  int err = apply(p, &ch, 1);
  if (err < 0) return err;
  p->wake_open = true;
  p->wake_token = token;
  return 0;
}

int poller_wake(poller* p) {
  struct kevent ch;
  // udata again: FreeBSD stores a change's udata into the knote even without EV_ADD.
  EV_SET(&ch, kWakeIdent, EVFILT_USER, 0, NOTE_TRIGGER, 0, to_udata(p->wake_token));
  int r;
  do {
    r = kevent(p->kq, &ch, 1, nullptr, 0, nullptr);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? neg_errno() : 0;
}

void poller_wake_ack(poller*) {}

}  // namespace rn
