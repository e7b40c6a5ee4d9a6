#include "transport/listener.h"

#include "poller/poller.h"
#include "rn.h"

namespace rn {

int listener_open(poller* p, const addr& a, const listen_opts& o, uint64_t token, addr* bound, const char** failed_call) {
  int fd = sock_listen(a, o, failed_call);
  if (fd < 0) return fd;
  int err = poller_add(p, fd, token, POLL_READ);
  if (err < 0) {
    *failed_call = poller_name();
    sock_close(fd);
    return err;
  }
  if (bound) sock_local(fd, bound);
  return fd;
}

void listener_close(poller* p, sock_t fd) {
  if (fd < 0) return;
  poller_del(p, fd);
  sock_close(fd);
}

int listener_accept_burst(sock_t lfd, int burst, int* spare, accept_sink* sink) {
  int handed = 0;
  for (int i = 0; i < burst; i++) {
    int fd = sock_accept(lfd);
    if (fd >= 0) {
      sink->on_fd(sink->ud, fd);
      handed++;
      continue;
    }
    if (fd == -EAGAIN) break;
    sink->errors++;
    sink->last_error = fd;
    if (fd == -EMFILE || fd == -ENFILE) {
      if (*spare >= 0) {
        listener_spare_close(spare);
        int dropped = sock_accept(lfd);
        if (dropped >= 0) sock_close(dropped);
        *spare = listener_spare_open();
      }
      break;
    }
    // Transient: the connection went away before we took it; keep accepting.
    if (fd != -ECONNABORTED && fd != -EINTR && fd != -EPROTO) break;
  }
  return handed;
}

int listener_spare_open() { return sock_spare_open(); }

void listener_spare_close(int* spare) {
  if (*spare >= 0) sock_close(*spare);
  *spare = -1;
}

}  // namespace rn
