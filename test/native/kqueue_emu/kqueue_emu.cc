// A kqueue emulation for Linux, so the kqueue backend runs through the same native
// tests as epoll. It implements the semantics poller_kqueue.cc relies on, modelled on
// FreeBSD's kern_event.c and XNU's kern_event.c (read for understanding, not copied):
//
// - Knotes are keyed by (ident, filter): EVFILT_READ / EVFILT_WRITE on fds,
//   EVFILT_USER on any ident. EV_ADD creates or updates (udata is replaced by every
//   change, as FreeBSD does), EV_DELETE removes (ENOENT if absent), EV_ENABLE /
//   EV_DISABLE toggle. Flags EV_CLEAR, EV_ONESHOT, EV_DISPATCH, EV_RECEIPT.
// - Activation is the kernel's: a knote is queued (in activation order) when its
//   fd's state changes in its direction, and when a change to it finds its condition
//   true (so EV_ADD of an existing knote re-arms, EV_CLEAR or not). At retrieval the
//   condition is evaluated again; a knote whose condition no longer holds is dropped.
//   A reported EV_CLEAR knote is reset (and an EVFILT_USER one untriggered); a
//   level knote stays queued and is looked at again on the next scan.
// - EVFILT_READ reports EV_EOF when the peer shut down (POLLRDHUP/POLLHUP) and
//   EVFILT_WRITE when nothing more can be sent (POLLHUP/POLLERR); with EV_EOF, fflags
//   carries the socket's pending error, as BSD's so_error does.
// - Change errors: an EV_ERROR record (data = errno) when the event list has room,
//   else kevent() fails with that errno. EV_RECEIPT forces a record for every change
//   (data 0 on success); a call that returned records drains no events.
// - EVFILT_USER: NOTE_TRIGGER activates; NOTE_FFAND/FFOR/FFCOPY edit fflags. Any
//   thread may trigger while another waits in kevent().
// - Closing an fd removes its knotes (kqueue's rule); closing the kqueue frees it.
//
// How: the kqueue fd is an epoll fd ("top"); inside it sit two edge-triggered epoll
// sets, one for the read direction and one for the write direction (two sets, so a
// wake-up in one direction never activates the other's knotes), and an eventfd that
// is set while knotes are queued in user space or a trigger must wake a waiter, so
// the kqueue fd is pollable the way a real one is. Readiness itself is evaluated
// with poll(2) on the fd.
//
// Interposition: the tests that use the emulation link with -Wl,--wrap=close and
// -Wl,--wrap=getsockopt. close() is how the emulation learns an fd is gone.
// getsockopt(SO_ERROR) is wrapped because Linux clears a socket's error when it is
// read, and the emulation must read it to fill fflags: the error is kept here and
// handed to the next SO_ERROR query, as a BSD kernel would still have it.
//
// Not emulated (not used by the backend): other filters (EVFILT_TIMER, PROC, VNODE,
// SIGNAL), EV_FLAG1 / EV_FORCEONESHOT, NOTE_LOWAT, kevent64/kevent_qos. `data` is
// FIONREAD bytes for reads (1 for a listener, whose backlog Linux does not report)
// and the send buffer's free space for writes.
#include <sys/event.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

extern "C" int __real_close(int fd);
extern "C" int __real_getsockopt(int fd, int level, int name, void* value, socklen_t* len);

namespace {

using key = std::pair<uintptr_t, int16_t>;

struct knote {
  uint16_t flags = 0;     // EV_CLEAR | EV_ONESHOT | EV_DISPATCH | EV_RECEIPT, as registered
  uint32_t sfflags = 0;   // EVFILT_USER: the user's fflags
  intptr_t sdata = 0;     // EVFILT_USER: the user's data
  void* udata = nullptr;
  bool enabled = true;
  bool queued = false;
  bool triggered = false; // EVFILT_USER
};

struct kq_state {
  int top = -1, rd = -1, wr = -1, sig = -1;
  std::mutex mu;
  std::map<key, knote> notes;
  std::deque<key> queue;  // activation order; knote::queued says who is in it
  bool sig_set = false;
};

constexpr uint16_t kKeptFlags = EV_CLEAR | EV_ONESHOT | EV_DISPATCH | EV_RECEIPT;

std::mutex g_mu;  // order: g_mu, then a kq_state::mu, then g_err_mu
std::unordered_map<int, std::shared_ptr<kq_state>> g_kqs;
std::mutex g_err_mu;
std::unordered_map<int, int> g_so_error;  // SO_ERROR read for fflags, not yet fetched

bool is_fd_filter(int16_t f) { return f == EVFILT_READ || f == EVFILT_WRITE; }

std::shared_ptr<kq_state> find_kq(int fd) {
  std::lock_guard<std::mutex> g(g_mu);
  auto it = g_kqs.find(fd);
  return it == g_kqs.end() ? nullptr : it->second;
}

// The socket's pending error, read from the kernel once (which clears it there) and
// kept until getsockopt(SO_ERROR) or close() takes it.
int so_error(int fd, bool kernel_has_one) {
  std::lock_guard<std::mutex> g(g_err_mu);
  if (kernel_has_one) {
    int e = 0;
    socklen_t len = sizeof(e);
    if (__real_getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e != 0) g_so_error[fd] = e;
  }
  auto it = g_so_error.find(fd);
  return it == g_so_error.end() ? 0 : it->second;
}

// Is the knote's condition true now? If so, fill *out as kevent() reports it.
bool evaluate(const key& k, const knote& kn, struct kevent* out) {
  out->ident = k.first;
  out->filter = k.second;
  out->flags = kn.flags;
  out->udata = kn.udata;
  out->fflags = 0;
  out->data = 0;
  if (k.second == EVFILT_USER) {
    out->fflags = kn.sfflags;
    out->data = kn.sdata;
    return kn.triggered;
  }
  int fd = static_cast<int>(k.first);
  pollfd p{fd, static_cast<short>(k.second == EVFILT_READ ? (POLLIN | POLLRDHUP) : POLLOUT), 0};
  if (poll(&p, 1, 0) != 1 || (p.revents & POLLNVAL)) return false;
  short r = p.revents;
  int err = so_error(fd, (r & POLLERR) != 0);
  bool eof;
  if (k.second == EVFILT_READ) {
    if (!(r & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) return false;
    eof = (r & (POLLRDHUP | POLLHUP)) != 0 || err != 0;
    int n = 0;
    out->data = ioctl(fd, FIONREAD, &n) == 0 ? n : 1;  // a listener: "at least one"
  } else {
    if (!(r & (POLLOUT | POLLHUP | POLLERR))) return false;
    eof = (r & (POLLHUP | POLLERR)) != 0 || err != 0;
    int sndbuf = 0, queued = 0;
    socklen_t len = sizeof(sndbuf);
    if (__real_getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 && ioctl(fd, TIOCOUTQ, &queued) == 0)
      out->data = sndbuf > queued ? sndbuf - queued : 0;
  }
  if (eof) {
    out->flags |= EV_EOF;
    out->fflags = static_cast<uint32_t>(err);
  }
  return true;
}

void enqueue(kq_state& s, const key& k, knote& kn) {
  if (kn.queued || !kn.enabled) return;
  kn.queued = true;
  s.queue.push_back(k);
}

// Keep the kqueue fd readable exactly while something is queued (as a kqueue fd is
// readable while it has pending events).
void update_signal(kq_state& s) {
  bool want = !s.queue.empty();
  if (want == s.sig_set) return;
  uint64_t v = 1;
  ssize_t r = want ? write(s.sig, &v, sizeof(v)) : read(s.sig, &v, sizeof(v));
  (void)r;
  s.sig_set = want;
}

void remove_note(kq_state& s, std::map<key, knote>::iterator it) {
  const key k = it->first;
  if (it->second.queued) {
    for (auto q = s.queue.begin(); q != s.queue.end(); ++q)
      if (*q == k) {
        s.queue.erase(q);
        break;
      }
  }
  if (is_fd_filter(k.second)) {
    epoll_event e{};
    epoll_ctl(k.second == EVFILT_READ ? s.rd : s.wr, EPOLL_CTL_DEL, static_cast<int>(k.first), &e);
  }
  s.notes.erase(it);
}

// One change; returns 0 or a positive errno.
int apply_change(kq_state& s, const struct kevent& c) {
  if (!is_fd_filter(c.filter) && c.filter != EVFILT_USER) return EINVAL;
  key k{c.ident, c.filter};
  auto it = s.notes.find(k);
  if (c.flags & EV_DELETE) {
    if (it == s.notes.end()) return ENOENT;
    remove_note(s, it);
    return 0;
  }
  if (it == s.notes.end()) {
    if (!(c.flags & EV_ADD)) return ENOENT;
    if (is_fd_filter(c.filter)) {
      int fd = static_cast<int>(c.ident);
      if (c.ident > INT32_MAX || fcntl(fd, F_GETFD) < 0) return EBADF;
      epoll_event e{};
      e.events = (c.filter == EVFILT_READ ? (EPOLLIN | EPOLLRDHUP) : EPOLLOUT) | EPOLLET;
      e.data.fd = fd;
      if (epoll_ctl(c.filter == EVFILT_READ ? s.rd : s.wr, EPOLL_CTL_ADD, fd, &e) != 0) return errno;
    }
    knote kn;
    kn.flags = c.flags & kKeptFlags;
    kn.enabled = !(c.flags & EV_DISABLE);
    if (c.filter == EVFILT_USER) {
      kn.sfflags = c.fflags & NOTE_FFLAGSMASK;
      kn.sdata = c.data;
      kn.triggered = (c.fflags & NOTE_TRIGGER) != 0;
    }
    it = s.notes.emplace(k, kn).first;
  } else if (c.filter == EVFILT_USER) {
    knote& kn = it->second;
    uint32_t ff = c.fflags & NOTE_FFLAGSMASK;
    switch (c.fflags & NOTE_FFCTRLMASK) {
      case NOTE_FFAND: kn.sfflags &= ff; break;
      case NOTE_FFOR: kn.sfflags |= ff; break;
      case NOTE_FFCOPY: kn.sfflags = ff; break;
      default: break;  // NOTE_FFNOP
    }
    kn.sdata = c.data;
    if (c.fflags & NOTE_TRIGGER) kn.triggered = true;
  }
  knote& kn = it->second;
  kn.udata = c.udata;
  if (c.flags & EV_ENABLE) kn.enabled = true;
  if (c.flags & EV_DISABLE) kn.enabled = false;
  struct kevent now;
  if (kn.enabled && !kn.queued && evaluate(k, kn, &now)) enqueue(s, k, kn);
  return 0;
}

// Move the kernel's edges into the activation queue.
void collect(kq_state& s) {
  epoll_event ev[256];
  for (int set : {s.rd, s.wr}) {
    int16_t filter = set == s.rd ? EVFILT_READ : EVFILT_WRITE;
    int n;
    do {
      n = epoll_wait(set, ev, 256, 0);
      for (int i = 0; i < n; i++) {
        key k{static_cast<uintptr_t>(ev[i].data.fd), filter};
        auto it = s.notes.find(k);
        if (it != s.notes.end()) enqueue(s, k, it->second);
      }
    } while (n == 256);
  }
}

// Report up to max queued knotes whose condition still holds, in activation order.
int scan(kq_state& s, struct kevent* out, int max) {
  int got = 0;
  for (size_t pass = s.queue.size(); pass > 0 && got < max; pass--) {
    key k = s.queue.front();
    s.queue.pop_front();
    auto it = s.notes.find(k);
    if (it == s.notes.end()) continue;
    knote& kn = it->second;
    kn.queued = false;
    if (!kn.enabled || !evaluate(k, kn, &out[got])) continue;
    got++;
    if (kn.flags & EV_ONESHOT) {
      remove_note(s, it);
      continue;
    }
    if (kn.flags & EV_DISPATCH) kn.enabled = false;
    if (kn.flags & EV_CLEAR) {
      kn.triggered = false;
      continue;
    }
    enqueue(s, k, kn);  // level: looked at again next time
  }
  return got;
}

int fail(int err) {
  errno = err;
  return -1;
}

}  // namespace

extern "C" int kqueue(void) {
  auto s = std::make_shared<kq_state>();
  s->top = epoll_create1(EPOLL_CLOEXEC);
  s->rd = epoll_create1(EPOLL_CLOEXEC);
  s->wr = epoll_create1(EPOLL_CLOEXEC);
  s->sig = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  bool ok = s->top >= 0 && s->rd >= 0 && s->wr >= 0 && s->sig >= 0;
  for (int fd : {s->rd, s->wr, s->sig}) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    ok = ok && epoll_ctl(s->top, EPOLL_CTL_ADD, fd, &e) == 0;
  }
  if (!ok) {
    int err = errno;
    for (int fd : {s->top, s->rd, s->wr, s->sig})
      if (fd >= 0) __real_close(fd);
    return fail(err);
  }
  std::lock_guard<std::mutex> g(g_mu);
  g_kqs[s->top] = s;
  return s->top;
}

extern "C" int kevent(int kq, const struct kevent* changes, int nchanges, struct kevent* events, int nevents,
                      const struct timespec* timeout) {
  std::shared_ptr<kq_state> s = find_kq(kq);
  if (!s) return fail(EBADF);
  if (nchanges < 0 || nevents < 0 || (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
                                                   timeout->tv_nsec >= 1000000000L)))
    return fail(EINVAL);
  using clock = std::chrono::steady_clock;
  auto deadline = clock::time_point::max();
  if (timeout) deadline = clock::now() + std::chrono::seconds(timeout->tv_sec) + std::chrono::nanoseconds(timeout->tv_nsec);

  std::unique_lock<std::mutex> lk(s->mu);
  collect(*s);  // edges that came before these changes are activated before them
  int records = 0;
  for (int i = 0; i < nchanges; i++) {
    int err = apply_change(*s, changes[i]);
    if (err == 0 && !(changes[i].flags & EV_RECEIPT)) continue;
    if (records < nevents) {
      events[records] = changes[i];
      events[records].flags = EV_ERROR;
      events[records].data = err;
      records++;
    } else if (err != 0) {
      update_signal(*s);
      return fail(err);
    }
  }
  if (records > 0 || nevents == 0) {
    update_signal(*s);
    return records;
  }
  for (;;) {
    collect(*s);
    int got = scan(*s, events, nevents);
    update_signal(*s);
    if (got > 0) return got;
    int wait_ms = -1;
    if (deadline != clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now()).count();
      if (left <= 0) return 0;
      wait_ms = static_cast<int>((left + 999) / 1000);
    }
    lk.unlock();
    epoll_event e;
    int r = epoll_wait(s->top, &e, 1, wait_ms);
    int err = errno;
    lk.lock();
    if (r < 0 && err == EINTR) return fail(EINTR);  // kevent() is interrupted by signals too
    if (r < 0) return fail(err);
  }
}

extern "C" int __wrap_close(int fd) {
  {
    std::lock_guard<std::mutex> g(g_mu);
    auto kq = g_kqs.find(fd);
    if (kq != g_kqs.end()) {
      std::shared_ptr<kq_state> s = kq->second;
      g_kqs.erase(kq);
      std::lock_guard<std::mutex> l(s->mu);
      s->notes.clear();
      s->queue.clear();
      for (int inner : {s->rd, s->wr, s->sig}) __real_close(inner);
      s->rd = s->wr = s->sig = -1;
    } else {
      for (auto& entry : g_kqs) {
        kq_state& s = *entry.second;
        std::lock_guard<std::mutex> l(s.mu);
        for (int16_t f : {EVFILT_READ, EVFILT_WRITE}) {
          auto it = s.notes.find(key{static_cast<uintptr_t>(fd), f});
          if (it != s.notes.end()) remove_note(s, it);
        }
        update_signal(s);
      }
    }
  }
  {
    std::lock_guard<std::mutex> g(g_err_mu);
    g_so_error.erase(fd);
  }
  return __real_close(fd);
}

extern "C" int __wrap_getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  if (level == SOL_SOCKET && name == SO_ERROR && value && len && *len >= sizeof(int)) {
    std::lock_guard<std::mutex> g(g_err_mu);
    auto it = g_so_error.find(fd);
    if (it != g_so_error.end()) {
      *static_cast<int*>(value) = it->second;
      *len = sizeof(int);
      g_so_error.erase(it);
      return 0;
    }
  }
  return __real_getsockopt(fd, level, name, value, len);
}
