// Linux: the flags do it in the same call (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4,
// MSG_NOSIGNAL), so no socket is ever visible without them.
#include "sys/sock_os.h"
#include "rn.h"

#include <sys/socket.h>

namespace rn {

int sock_os_socket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd >= 0 ? fd : neg_errno();
}

int sock_os_accept(int lfd) {
  int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return fd >= 0 ? fd : neg_errno();
}

ssize_t sock_os_sendmsg(int fd, const msghdr* msg) {
  ssize_t n = sendmsg(fd, msg, MSG_NOSIGNAL);
  return n >= 0 ? n : neg_errno();
}

ssize_t sock_os_send(int fd, const void* buf, size_t len) {
  ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
  return n >= 0 ? n : neg_errno();
}

int sock_os_peercred(int fd, int* pid, int* uid, int* gid) {
  ucred c{};
  socklen_t len = sizeof(c);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return neg_errno();
  *pid = static_cast<int>(c.pid);
  *uid = static_cast<int>(c.uid);
  *gid = static_cast<int>(c.gid);
  return 0;
}

bool sock_os_has_abstract() { return true; }

}  // namespace rn
