#include "poller/poller.h"
#include "poller/poller_park.h"
#include "rn.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <new>

namespace rn {

struct poller {
  int epfd;
  int wakefd = -1;  // eventfd, once poller_wake_open ran
  epoll_event ev[1024];
};

namespace {
uint32_t to_epoll(uint32_t mask) {
  uint32_t e = 0;
  if (mask & POLL_READ) e |= EPOLLIN | EPOLLRDHUP;
  if (mask & POLL_WRITE) e |= EPOLLOUT;
  if (mask & POLL_EDGE) e |= EPOLLET;
  return e;
}
int ctl(poller* p, int op, int fd, uint64_t token, uint32_t mask) {
  epoll_event e{};
  e.events = to_epoll(mask);
  e.data.u64 = token;
  return epoll_ctl(p->epfd, op, fd, &e) == 0 ? 0 : neg_errno();
}
}  // namespace

int poller_create(poller** out) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return neg_errno();
  poller* p = new (std::nothrow) poller;
  if (!p) {
    close(fd);
    return -ENOMEM;
  }
  p->epfd = fd;
  *out = p;
  return 0;
}

void poller_destroy(poller* p) {
  if (!p) return;
  if (p->wakefd >= 0) close(p->wakefd);
  close(p->epfd);
  delete p;
}

int poller_fd(const poller* p) { return p->epfd; }

int poller_add(poller* p, int fd, uint64_t token, uint32_t mask) { return ctl(p, EPOLL_CTL_ADD, fd, token, mask); }

int poller_mod(poller* p, int fd, uint64_t token, uint32_t mask) { return ctl(p, EPOLL_CTL_MOD, fd, token, mask); }

int poller_del(poller* p, int fd) {
  // Kernels before 2.6.9 want a non-null event even for DEL.
  epoll_event e{};
  return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &e) == 0 ? 0 : neg_errno();
}

int poller_wait(poller* p, poll_event* events, int max, int timeout_ms) {
  if (max > 1024) max = 1024;
  int n;
  do {
    n = epoll_wait(p->epfd, p->ev, max, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return neg_errno();
  for (int i = 0; i < n; i++) {
    uint32_t e = p->ev[i].events, m = 0;
    if (e & EPOLLIN) m |= POLL_READ;
    if (e & EPOLLOUT) m |= POLL_WRITE;
    if (e & (EPOLLHUP | EPOLLRDHUP)) m |= POLL_HANGUP;
    if (e & EPOLLERR) m |= POLL_ERROR;
    events[i].token = p->ev[i].data.u64;
    events[i].mask = m;
  }
  return n;
}

void poller_commit(poller*) {}

// The poller fd is pollable: hosts watch it instead (see poller/poller_park.h).
int poller_park(poller*, int) { return -ENOSYS; }
void poller_unpark(poller*) {}

const char* poller_name() { return "epoll"; }

int poller_wake_open(poller* p, uint64_t token) {
  if (p->wakefd >= 0) return -EALREADY;
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return neg_errno();
  int err = ctl(p, EPOLL_CTL_ADD, fd, token, POLL_READ);
  if (err < 0) {
    close(fd);
    return err;
  }
  p->wakefd = fd;
  return 0;
}

int poller_wake(poller* p) {
  uint64_t one = 1;
  // EAGAIN: the counter is saturated, so a wake is pending anyway.
  if (write(p->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN) return neg_errno();
  return 0;
}

void poller_wake_ack(poller* p) {
  uint64_t n;
  ssize_t r = read(p->wakefd, &n, sizeof(n));
  (void)r;  // EAGAIN: nothing was pending
}

}  // namespace rn
