// Self-pipe wake fd for Unixes without eventfd (macOS, the BSDs).
#include <fcntl.h>
#include <unistd.h>

#include "rn.h"
#include "sys/wake.h"

namespace rn {

int wake_open(wake_fd* w) {
  int p[2];
  if (pipe(p) != 0) return neg_errno();
  for (int fd : p) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  w->rfd = p[0];
  w->wfd = p[1];
  return 0;
}

void wake_signal(const wake_fd& w) {
  char one = 1;
  ssize_t r = write(w.wfd, &one, 1);
  (void)r;  // EAGAIN: the pipe is full of signals already
}

void wake_clear(const wake_fd& w) {
  char buf[64];
  while (read(w.rfd, buf, sizeof(buf)) > 0) {
  }
}

void wake_close(wake_fd* w) {
  if (w->rfd >= 0) close(w->rfd);
  if (w->wfd >= 0 && w->wfd != w->rfd) close(w->wfd);
  w->rfd = w->wfd = -1;
}

}  // namespace rn
