#include "loop/taskq.h"
#include "rn.h"

#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#else
#include <fcntl.h>
#endif

namespace rn {

taskq::~taskq() {
  if (rfd_ >= 0) close(rfd_);
  if (wfd_ >= 0 && wfd_ != rfd_) close(wfd_);
}

int taskq::open() {
#ifdef __linux__
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return neg_errno();
  rfd_ = wfd_ = fd;
#else
  int p[2];
  if (pipe(p) != 0) return neg_errno();
  for (int fd : p) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  rfd_ = p[0];
  wfd_ = p[1];
#endif
  return 0;
}

void taskq::signal() {
#ifdef __linux__
  uint64_t one = 1;
  ssize_t r = write(wfd_, &one, sizeof(one));
#else
  char one = 1;
  ssize_t r = write(wfd_, &one, 1);
#endif
  (void)r;  // EAGAIN means a signal is already pending, which is all we need
}

int taskq::push(task&& t) {
  bool need_signal;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closed_) return -ESHUTDOWN;
    q_.push_back(std::move(t));
    need_signal = !signaled_;
    signaled_ = true;
  }
  if (need_signal) signal();
  return 0;
}

void taskq::drain(std::vector<task>* out) {
  char buf[64];
  while (read(rfd_, buf, sizeof(buf)) > 0) {
  }
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
