#include "sys/sock.h"
#include "rn.h"
#include "sys/sock_addr.h"
#include "sys/sock_os.h"
#include "sys/sock_unix.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rn {

namespace {

#ifdef SO_REUSEPORT_LB
// FreeBSD 12+: SO_REUSEPORT_LB spreads connections over the sockets like Linux's
// SO_REUSEPORT; plain BSD SO_REUSEPORT (macOS) only lets them share the port.
constexpr int kReusePort = SO_REUSEPORT_LB;
#else
constexpr int kReusePort = SO_REUSEPORT;
#endif

int set_int_opt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : neg_errno();
}

int new_socket(int family) { return sock_os_socket(family == kFamilyUnix ? AF_UNIX : family == 6 ? AF_INET6 : AF_INET); }

}  // namespace

int sock_listen(const addr& a, const listen_opts& o, const char** failed_call) {
  bool un = a.family == kFamilyUnix;
  if (un) {
    *failed_call = "bind";
    int e = unix_prepare_bind(a);
    if (e < 0) return e;
  }
  *failed_call = "socket";
  int fd = new_socket(a.family);
  if (fd < 0) return fd;
  int err = 0;
  // Unix: no SO_REUSEADDR / SO_REUSEPORT, a path is bound once (unix_prepare_bind).
  if (!un && o.reuse_addr && (err = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0) {
    *failed_call = "setsockopt(SO_REUSEADDR)";
  } else if (!un && o.reuse_port && (err = set_int_opt(fd, SOL_SOCKET, kReusePort, 1)) < 0) {
    *failed_call = "setsockopt(SO_REUSEPORT)";
  } else if (a.family == 6 && (err = set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0) {
    *failed_call = "setsockopt(IPV6_V6ONLY)";
  } else {
    sa_any sa;
    socklen_t len = to_sockaddr(a, &sa);
    if (bind(fd, &sa.sa, len) != 0) {
      err = neg_errno();
      *failed_call = "bind";
    } else if (un && (err = unix_after_bind(a, o.unix_mode)) < 0) {
      *failed_call = "chmod";
    } else if (listen(fd, o.backlog) != 0) {
      err = neg_errno();
      *failed_call = "listen";
    }
    // A unix path bound and then failed: its file is ours, remove it.
    if (err < 0 && un && strcmp(*failed_call, "bind") != 0 && a.host[0] != '@') unlink(a.host);
  }
  if (err < 0) {
    close(fd);
    return err;
  }
  return fd;
}

int sock_connect(const addr& a) {
  int fd = new_socket(a.family);
  if (fd < 0) return fd;
  sa_any sa;
  socklen_t len = to_sockaddr(a, &sa);
  if (connect(fd, &sa.sa, len) != 0 && errno != EINPROGRESS) {
    int err = neg_errno();
    close(fd);
    return err;
  }
  return fd;
}

int sock_accept(sock_t lfd) { return sock_os_accept(lfd); }

int sock_set_nodelay(sock_t fd, bool on) { return set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }

int sock_set_keepalive(sock_t fd, bool on, int secs) {
  int err = set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
  if (err < 0 || !on || secs <= 0) return err;
#ifdef TCP_KEEPIDLE
  if ((err = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, secs)) < 0) return err;
  if ((err = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, secs)) < 0) return err;
#elif defined(TCP_KEEPALIVE)
  if ((err = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPALIVE, secs)) < 0) return err;
#endif
  return 0;
}

int sock_set_bufsize(sock_t fd, bool send, int bytes) {
  return set_int_opt(fd, SOL_SOCKET, send ? SO_SNDBUF : SO_RCVBUF, bytes);
}

int sock_set_linger0(sock_t fd) {
  linger l{1, 0};
  return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0 ? 0 : neg_errno();
}

int sock_apply(sock_t fd, const conn_opts& o) {
  int err = 0;
  sa_any s;
  socklen_t len = sizeof(s);
  // Unix sockets: no TCP_NODELAY / keepalive (the buffer sizes still apply).
  bool tcp = getsockname(fd, &s.sa, &len) != 0 || s.sa.sa_family != AF_UNIX;
  if (tcp && o.nodelay && (err = sock_set_nodelay(fd, true)) < 0) return err;
  if (tcp && o.keepalive_secs > 0 && (err = sock_set_keepalive(fd, true, o.keepalive_secs)) < 0) return err;
  if (o.sndbuf > 0 && (err = sock_set_bufsize(fd, true, o.sndbuf)) < 0) return err;
  if (o.rcvbuf > 0 && (err = sock_set_bufsize(fd, false, o.rcvbuf)) < 0) return err;
  return 0;
}

ssize_t sock_read(sock_t fd, void* buf, size_t len) {
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n >= 0) return n;
    if (errno != EINTR) return neg_errno();
  }
}

ssize_t sock_writev(sock_t fd, const iovec_t* iov, int iovcnt) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec_t*>(iov);
  msg.msg_iovlen = iovcnt;
  for (;;) {
    // A peer that went away must cost an EPIPE, never a SIGPIPE (see sys/sock_os.h).
    // One buffer (the common write) goes out with send(), which copies in less.
    ssize_t n = iovcnt == 1 ? sock_os_send(fd, iov[0].iov_base, iov[0].iov_len) : sock_os_sendmsg(fd, &msg);
    if (n != -EINTR) return n;
  }
}

int sock_shutdown_write(sock_t fd) { return shutdown(fd, SHUT_WR) == 0 ? 0 : neg_errno(); }

int sock_close(sock_t fd) { return close(fd) == 0 ? 0 : neg_errno(); }

int sock_local(sock_t fd, addr* out) {
  sa_any s;
  socklen_t len = sizeof(s);
  if (getsockname(fd, &s.sa, &len) != 0) return neg_errno();
  return from_sockaddr(s, len, out);
}

int sock_peer(sock_t fd, addr* out) {
  sa_any s;
  socklen_t len = sizeof(s);
  if (getpeername(fd, &s.sa, &len) != 0) return neg_errno();
  return from_sockaddr(s, len, out);
}

int sock_error(sock_t fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return neg_errno();
  return -err;
}

int sock_spare_open() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0 ? fd : neg_errno();
}

}  // namespace rn
