#include "transport/dialer.h"

#include <cerrno>

namespace rn {

int dialer_start(const addr& a, const conn_opts& o) {
  int fd = sock_connect(a);
  if (fd < 0) return fd;
  sock_apply(fd, o);
  return fd;
}

int dialer_result(sock_t fd, bool error_reported) {
  int err = sock_error(fd);
  if (err < 0) return err;
  // Writable with no pending error but hung up: the peer refused or reset
  // before we looked (SO_ERROR already read, e.g. by the kqueue filter).
  if (error_reported) return -ECONNREFUSED;
  // A peer address proves the connect completed.
  addr peer;
  int r = sock_peer(fd, &peer);
  return r == -ENOTCONN ? -ECONNREFUSED : 0;
}

}  // namespace rn
