// Linux socket calls: flags in one syscall where Linux has them.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "rn.h"
#include "sys/sock.h"
#include "sys/sock_os.h"

namespace rn {

int sock_os_stream(int family) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd >= 0 ? fd : neg_errno();
}

int sock_accept(sock_t lfd) {
  int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return fd >= 0 ? fd : neg_errno();
}

ssize_t sock_writev(sock_t fd, const iovec_t* iov, int iovcnt) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec_t*>(iov);
  msg.msg_iovlen = iovcnt;
  for (;;) {
    // MSG_NOSIGNAL: a peer that went away must cost an EPIPE, never a SIGPIPE.
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno != EINTR) return neg_errno();
  }
}

int sock_set_keepalive(sock_t fd, bool on, int secs) {
  int err = set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
  if (err < 0 || !on || secs <= 0) return err;
  if ((err = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, secs)) < 0) return err;
  return set_int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, secs);
}

}  // namespace rn
