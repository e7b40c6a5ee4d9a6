#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "rn.h"
#include "sys/wake.h"

namespace rn {

int wake_open(wake_fd* w) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return neg_errno();
  w->rfd = w->wfd = fd;
  return 0;
}

void wake_signal(const wake_fd& w) {
  uint64_t one = 1;
  ssize_t r = write(w.wfd, &one, sizeof(one));
  (void)r;  // EAGAIN means a signal is already pending, which is all we need
}

void wake_clear(const wake_fd& w) {
  uint64_t v;
  ssize_t r = read(w.rfd, &v, sizeof(v));
  (void)r;
}

void wake_close(wake_fd* w) {
  if (w->rfd >= 0) close(w->rfd);
  w->rfd = w->wfd = -1;
}

}  // namespace rn
