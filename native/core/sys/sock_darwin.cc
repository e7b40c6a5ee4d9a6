// macOS, and the BSDs through the same calls: no accept4 / SOCK_NONBLOCK on macOS
// and no MSG_NOSIGNAL for sendmsg there, so each new socket gets O_NONBLOCK and
// FD_CLOEXEC with fcntl and SO_NOSIGPIPE with setsockopt. (A fork+exec on another
// thread between socket() and fcntl() can inherit the fd: macOS has no atomic way.)
#include "sys/sock_os.h"
#include "rn.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

namespace rn {

namespace {

int prepare(int fd) {
  int one = 1;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) != 0) {
    int err = neg_errno();
    close(fd);
    return err;
  }
  return fd;
}

}  // namespace

int sock_os_socket(int family) {
  int fd = socket(family, SOCK_STREAM, 0);
  return fd >= 0 ? prepare(fd) : neg_errno();
}

int sock_os_accept(int lfd) {
  int fd = accept(lfd, nullptr, nullptr);
  return fd >= 0 ? prepare(fd) : neg_errno();
}

ssize_t sock_os_sendmsg(int fd, const msghdr* msg) {
  ssize_t n = sendmsg(fd, msg, 0);  // SO_NOSIGPIPE is set on every socket we make
  return n >= 0 ? n : neg_errno();
}

ssize_t sock_os_send(int fd, const void* buf, size_t len) {
  ssize_t n = send(fd, buf, len, 0);  // SO_NOSIGPIPE, as above
  return n >= 0 ? n : neg_errno();
}

int sock_os_peercred(int fd, int* pid, int* uid, int* gid) {
  uid_t u;
  gid_t g;
  if (getpeereid(fd, &u, &g) != 0) return neg_errno();
  *uid = static_cast<int>(u);
  *gid = static_cast<int>(g);
  *pid = -1;
#if defined(LOCAL_PEERPID)  // macOS
  pid_t p = -1;
  socklen_t len = sizeof(p);
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &p, &len) == 0) *pid = static_cast<int>(p);
#endif
  return 0;
}

bool sock_os_has_abstract() { return false; }

}  // namespace rn
