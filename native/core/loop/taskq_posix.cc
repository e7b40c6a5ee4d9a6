#include "loop/taskq.h"
#include "poller/poller.h"
#include "rn.h"

#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

namespace rn {

taskq::~taskq() {
  if (efd_ >= 0) ::close(efd_);
}

int taskq::open(poller* p, uint64_t token) {
  int err = poller_wake_open(p, token);
  if (err == 0) poll_ = p;
  return err;
}

int taskq::open_eventfd() {
#ifdef __linux__
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return neg_errno();
  efd_ = fd;
  return 0;
#else
  return -ENOSYS;
#endif
}

void taskq::signal() {
  if (poll_) {
    poller_wake(poll_);
    return;
  }
  uint64_t one = 1;
  ssize_t r = ::write(efd_, &one, sizeof(one));
  (void)r;  // EAGAIN: a wake-up is pending already, which is all we need
}

void taskq::ack() {
  if (poll_) {
    poller_wake_ack(poll_);
    return;
  }
  uint64_t v;
  ssize_t r = ::read(efd_, &v, sizeof(v));
  (void)r;
}

int taskq::push(task&& t) {
  std::lock_guard<std::mutex> g(mu_);
  if (closed_ || (!poll_ && efd_ < 0)) return -ESHUTDOWN;
  q_.push_back(std::move(t));
  // Wake under the lock: once close_queue() has returned, no push touches the
  // poller, so the loop may destroy it.
  if (!signaled_) {
    signaled_ = true;
    signal();
  }
  return 0;
}

void taskq::drain(std::vector<task>* out) {
  if (poll_ || efd_ >= 0) ack();
  std::lock_guard<std::mutex> g(mu_);
  signaled_ = false;
  for (auto& t : q_) out->push_back(std::move(t));
  q_.clear();
}

void taskq::close_queue() {
  std::lock_guard<std::mutex> g(mu_);
  closed_ = true;
}

}  // namespace rn
