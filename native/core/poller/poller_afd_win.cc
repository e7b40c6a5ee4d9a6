// Readiness on Windows: AFD poll requests (poller/afd_win.h) completing on one I/O
// completion port, the way wepoll, libuv's uv_poll and mio do it.
//
// An AFD poll is one-shot: it completes once, when one of the events it asked for
// holds (at once if one holds already). Each watched socket has at most one poll in
// flight. A completion is reported and the socket queued; poller_commit(), once the
// loop has read or written, submits its next poll. epoll's edge contract maps onto
// that as follows: a drained socket's next poll stays pending until new bytes
// arrive (a new edge); poller_mod submits at once (the re-arm); bytes left unread
// when the loop commits are reported again (an extra report, never a lost one).
// Level-triggered registrations (listeners) need nothing else: their next poll
// completes at once while connections are pending.
//
// poller_mod that asks for an event the poll in flight does not cover cancels it;
// the cancelled completion re-submits with the new interest. poller_del cancels;
// the socket's record lives on, unlisted, until its last completion arrives (the
// kernel writes into it until then). Wake-ups are posted completions with their own
// key. There is no pollable fd: hosts use poller_park (poller/poller_park.h).
#include <winsock2.h>
#include <windows.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "poller/afd_win.h"
#include "poller/poller.h"
#include "poller/poller_park.h"
#include "rn.h"

namespace rn {

namespace {

constexpr ULONG_PTR kKeyAfd = 0, kKeyWake = 1, kKeyUnpark = 2;
constexpr NTSTATUS kCancelled = static_cast<NTSTATUS>(0xC0000120);
constexpr int kMaxEntries = 1024;

struct watch {
  IO_STATUS_BLOCK iosb;  // first: a completion's lpOverlapped is &iosb
  afd::poll_info info;
  int fd = -1;
  SOCKET base = INVALID_SOCKET;
  uint64_t token = 0;
  uint32_t mask = 0;     // POLL_* interest
  ULONG polled = 0;      // AFD events the poll in flight asked for
  bool pending = false;  // a poll is in flight
  bool queued = false;   // in poller::again, waiting for poller_commit
  bool deleted = false;  // poller_del ran: freed when neither pending nor queued
};

// What a poll asks for: errors and resets always (epoll reports EPOLLERR/EPOLLHUP
// whatever the interest); the peer's FIN only with read interest, or a half-closed
// connection that only writes would be reported on every commit.
ULONG to_afd(uint32_t mask) {
  ULONG e = afd::POLL_ABORT | afd::POLL_LOCAL_CLOSE | afd::POLL_CONNECT_FAIL;
  if (mask & POLL_READ) e |= afd::POLL_RECEIVE | afd::POLL_ACCEPT | afd::POLL_DISCONNECT;
  if (mask & POLL_WRITE) e |= afd::POLL_SEND;
  return e;
}

uint32_t from_afd(ULONG e, uint32_t mask) {
  uint32_t m = 0;
  if (e & (afd::POLL_RECEIVE | afd::POLL_ACCEPT | afd::POLL_RECEIVE_EXPEDITED)) m |= POLL_READ;
  if (e & afd::POLL_DISCONNECT) m |= POLL_READ | POLL_HANGUP;  // as EPOLLIN | EPOLLRDHUP
  if (e & afd::POLL_SEND) m |= POLL_WRITE;
  if (e & afd::POLL_ABORT) m |= POLL_READ | POLL_HANGUP | POLL_ERROR;
  if (e & afd::POLL_CONNECT_FAIL) m |= POLL_WRITE | POLL_ERROR;
  return m & (mask | POLL_HANGUP | POLL_ERROR);
}

int win_to_errno(DWORD e) {
  switch (e) {
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return -ENOMEM;
    case ERROR_INVALID_HANDLE:
    case WSAENOTSOCK: return -EBADF;
    case ERROR_PROC_NOT_FOUND:
    case ERROR_INVALID_FUNCTION:
    case ERROR_NOT_SUPPORTED: return -ENOSYS;
    case ERROR_ACCESS_DENIED: return -EACCES;
    default: return -EIO;
  }
}

}  // namespace

struct poller {
  HANDLE port = nullptr;
  HANDLE afd = nullptr;
  std::unordered_map<int, watch*> fds;
  std::vector<watch*> again;  // reported (or cancelled): submit at poller_commit
  int in_flight = 0;          // polls not yet completed, listed or not
  OVERLAPPED_ENTRY entries[kMaxEntries];
  // wake-up
  bool wake_open = false;
  uint64_t wake_token = 0;
  std::atomic<bool> wake_posted{false};
  // poller_park
  std::mutex mu;
  std::condition_variable cv;
  OVERLAPPED_ENTRY kept[kMaxEntries];
  ULONG kept_n = 0;
  bool unparked = false;
};

namespace {

void release_if_done(poller*, watch* w) {
  if (w->deleted && !w->pending && !w->queued) delete w;
}

int submit(poller* p, watch* w) {
  ULONG want = to_afd(w->mask);
  if (w->pending) {
    // The poll in flight misses something now wanted: cancel it; its completion
    // re-submits with the current interest.
    if (want & ~w->polled) afd::cancel(p->afd, &w->iosb);
    return 0;
  }
  DWORD err = afd::poll(p->afd, &w->iosb, &w->info, w->base, want);
  if (err != 0) return win_to_errno(err);
  w->pending = true;
  w->polled = want;
  p->in_flight++;
  return 0;
}

void queue_again(poller* p, watch* w) {
  if (w->queued) return;
  w->queued = true;
  p->again.push_back(w);
}

// One completion: fills *ev and returns true when it is something to report.
bool take(poller* p, const OVERLAPPED_ENTRY& e, poll_event* ev, bool* wake_seen) {
  if (e.lpCompletionKey == kKeyWake) {
    if (*wake_seen || !p->wake_open) return false;
    *wake_seen = true;
    ev->token = p->wake_token;
    ev->mask = POLL_READ;
    return true;
  }
  if (e.lpCompletionKey != kKeyAfd || !e.lpOverlapped) return false;  // an unpark
  watch* w = reinterpret_cast<watch*>(reinterpret_cast<char*>(e.lpOverlapped) - offsetof(watch, iosb));
  w->pending = false;
  p->in_flight--;
  if (w->deleted) {
    release_if_done(p, w);
    return false;
  }
  NTSTATUS st = w->iosb.Status;
  ULONG got = st == 0 ? w->info.handles[0].events : 0;
  if (st == kCancelled) {
    queue_again(p, w);
    return false;
  }
  if (st != 0) {
    // The poll itself failed (the socket went away under it): report an error once;
    // the loop closes the connection.
    ev->token = w->token;
    ev->mask = POLL_ERROR | POLL_HANGUP;
    return true;
  }
  if (got & afd::POLL_LOCAL_CLOSE) return false;  // closed without poller_del: forget it
  queue_again(p, w);
  uint32_t m = from_afd(got, w->mask);
  if (!m) return false;
  ev->token = w->token;
  ev->mask = m;
  return true;
}

}  // namespace

int poller_create(poller** out) {
  poller* p = new (std::nothrow) poller;
  if (!p) return -ENOMEM;
  p->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  if (!p->port) {
    int err = win_to_errno(GetLastError());
    delete p;
    return err;
  }
  DWORD err = afd::open(p->port, kKeyAfd, &p->afd);
  if (err != 0) {
    CloseHandle(p->port);
    delete p;
    return win_to_errno(err);
  }
  *out = p;
  return 0;
}

void poller_destroy(poller* p) {
  if (!p) return;
  for (auto& kv : p->fds) {
    kv.second->deleted = true;
    if (kv.second->pending) afd::cancel(p->afd, &kv.second->iosb);
  }
  for (watch* w : p->again) w->queued = false;
  // Completions a parked waiter kept, then every cancelled poll's completion: the
  // kernel writes into a record until its poll completes. Bounded; if the OS never
  // completes a poll, its record is left allocated rather than freed under it.
  bool dummy = false;
  poll_event ev;
  for (ULONG i = 0; i < p->kept_n; i++) take(p, p->kept[i], &ev, &dummy);
  for (int round = 0; round < 50 && p->in_flight > 0; round++) {
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(p->port, p->entries, kMaxEntries, &n, 20, FALSE)) continue;
    for (ULONG i = 0; i < n; i++) take(p, p->entries[i], &ev, &dummy);
  }
  for (auto& kv : p->fds) release_if_done(p, kv.second);
  CloseHandle(p->afd);
  CloseHandle(p->port);
  delete p;
}

int poller_fd(const poller*) { return -1; }

int poller_add(poller* p, int fd, uint64_t token, uint32_t mask) {
  if (fd < 0) return -EBADF;
  if (p->fds.count(fd)) return -EEXIST;
  SOCKET s = static_cast<SOCKET>(static_cast<unsigned>(fd));
  SOCKET base = afd::base_socket(s);
  if (base == INVALID_SOCKET) return -ENOTSOCK;
  watch* w = new (std::nothrow) watch;
  if (!w) return -ENOMEM;
  w->fd = fd;
  w->base = base;
  w->token = token;
  w->mask = mask;
  int err = submit(p, w);
  if (err < 0) {
    delete w;
    return err;
  }
  p->fds[fd] = w;
  return 0;
}

int poller_mod(poller* p, int fd, uint64_t token, uint32_t mask) {
  auto it = p->fds.find(fd);
  if (it == p->fds.end()) return -ENOENT;
  watch* w = it->second;
  w->token = token;
  w->mask = mask;
  return submit(p, w);  // in flight: cancelled if it misses an event now wanted
}

int poller_del(poller* p, int fd) {
  auto it = p->fds.find(fd);
  if (it == p->fds.end()) return -ENOENT;
  watch* w = it->second;
  p->fds.erase(it);
  w->deleted = true;
  if (w->pending) afd::cancel(p->afd, &w->iosb);
  release_if_done(p, w);
  return 0;
}

void poller_commit(poller* p) {
  if (p->again.empty()) return;
  std::vector<watch*> list;
  list.swap(p->again);
  for (watch* w : list) {
    w->queued = false;
    if (w->deleted) {
      release_if_done(p, w);
      continue;
    }
    if (submit(p, w) < 0) {
      // Cannot poll it (the socket is gone): report an error at the next wait
      // through a posted completion would need a record; re-queue instead, so the
      // next commit tries again and the loop's own read/write sees the error.
      queue_again(p, w);
    }
  }
}

int poller_wait(poller* p, poll_event* events, int max, int timeout_ms) {
  poller_commit(p);
  if (max > kMaxEntries) max = kMaxEntries;
  if (max <= 0) return -EINVAL;
  int n = 0;
  bool wake_seen = false;
  {
    // What a parked waiter kept for this thread comes first.
    std::lock_guard<std::mutex> g(p->mu);
    if (p->kept_n > 0) {
      ULONG i = 0;
      for (; i < p->kept_n && n < max; i++)
        if (take(p, p->kept[i], &events[n], &wake_seen)) n++;
      if (i < p->kept_n) {
        // Not all fit: keep the rest for the next wait (events is full).
        for (ULONG j = i; j < p->kept_n; j++) p->kept[j - i] = p->kept[j];
        p->kept_n -= i;
        return n;
      }
      p->kept_n = 0;
      p->cv.notify_all();
      timeout_ms = 0;
    }
  }
  ULONG got = 0;
  DWORD wait = timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms);
  if (!GetQueuedCompletionStatusEx(p->port, p->entries, static_cast<ULONG>(max - n), &got, wait, FALSE)) {
    DWORD e = GetLastError();
    if (e == WAIT_TIMEOUT) return n;
    return n > 0 ? n : win_to_errno(e);
  }
  for (ULONG i = 0; i < got; i++)
    if (take(p, p->entries[i], &events[n], &wake_seen)) n++;
  return n;
}

const char* poller_name() { return "afd"; }

int poller_wake_open(poller* p, uint64_t token) {
  if (p->wake_open) return -EALREADY;
  p->wake_token = token;
  p->wake_open = true;
  return 0;
}

int poller_wake(poller* p) {
  if (p->wake_posted.exchange(true)) return 0;  // one is pending already
  if (!PostQueuedCompletionStatus(p->port, 0, kKeyWake, nullptr)) {
    p->wake_posted.store(false);
    return win_to_errno(GetLastError());
  }
  return 0;
}

void poller_wake_ack(poller* p) { p->wake_posted.store(false); }

int poller_park(poller* p, int timeout_ms) {
  std::unique_lock<std::mutex> lk(p->mu);
  p->cv.wait(lk, [p] { return p->kept_n == 0 || p->unparked; });
  if (p->unparked) return -ECANCELED;
  lk.unlock();
  OVERLAPPED_ENTRY got[kMaxEntries];
  ULONG n = 0;
  DWORD wait = timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms);
  BOOL ok = GetQueuedCompletionStatusEx(p->port, got, kMaxEntries, &n, wait, FALSE);
  lk.lock();
  if (!ok) {
    DWORD e = GetLastError();
    if (p->unparked) return -ECANCELED;
    return e == WAIT_TIMEOUT ? 0 : win_to_errno(e);
  }
  ULONG k = 0;
  for (ULONG i = 0; i < n; i++)
    if (got[i].lpCompletionKey != kKeyUnpark) got[k++] = got[i];
  for (ULONG i = 0; i < k; i++) p->kept[i] = got[i];
  p->kept_n = k;
  if (p->unparked) return -ECANCELED;
  return static_cast<int>(k);
}

void poller_unpark(poller* p) {
  {
    std::lock_guard<std::mutex> g(p->mu);
    p->unparked = true;
  }
  p->cv.notify_all();
  PostQueuedCompletionStatus(p->port, 0, kKeyUnpark, nullptr);
}

}  // namespace rn
