// Every socket syscall ringnet makes lives in sock_*.cc (uSockets' bsd.c habit):
// nothing else in the tree calls the socket API directly.
#pragma once
#include <cstdint>
#include <cstddef>
#include <sys/types.h>
#ifndef _WIN32
#include <sys/uio.h>
#endif

namespace rn {

#ifdef _WIN32
using sock_t = intptr_t;
struct iovec_t { void* iov_base; size_t iov_len; };
#else
using sock_t = int;
using iovec_t = struct iovec;
#endif

// A socket address in neutral form: family 4 or 6, numeric host, port; or
// family kFamilyUnix, host the socket's path ('@' first: a Linux abstract name).
constexpr int kFamilyUnix = 1;
struct addr {
  int family = 0;     // 4, 6 or kFamilyUnix
  char host[108] = {0};  // sun_path's size on Linux (104 on macOS and the BSDs)
  uint16_t port = 0;
};

struct listen_opts {
  bool reuse_addr = true;
  bool reuse_port = false;
  int backlog = 1024;
  int unix_mode = -1;  // unix path listeners: chmod to this before listen (-1: umask's)
};

// Peer credentials of a connected Unix socket (SO_PEERCRED / getpeereid).
struct peer_cred {
  int pid = -1;  // -1 where the OS does not say (the BSDs)
  int uid = -1;
  int gid = -1;
};

struct conn_opts {
  bool nodelay = true;
  int keepalive_secs = 0;   // 0: leave off
  int sndbuf = 0;           // 0: kernel default
  int rcvbuf = 0;
};

// Parse a numeric host ("127.0.0.1", "::1", "0.0.0.0", "::") into *out; -EINVAL if not numeric.
int sock_parse(const char* host, uint16_t port, addr* out);
// A Unix socket path (or '@name', abstract, Linux only) into *out: -ENAMETOOLONG
// past sun_path, -EINVAL if empty or with a NUL, -EAFNOSUPPORT for '@' elsewhere.
int sock_parse_unix(const char* path, addr* out);
// Peer credentials of a connected Unix socket, or -errno (-ENOTSUP: not unix).
int sock_peercred(sock_t fd, peer_cred* out);
// Bind + listen a non-blocking TCP socket. Returns fd, or -errno; *failed_call names the syscall.
int sock_listen(const addr& a, const listen_opts& o, const char** failed_call);
// Non-blocking connect (used by tests and the client side). Returns fd or -errno.
int sock_connect(const addr& a);
// accept4 non-blocking + cloexec. Returns fd, or -errno (-EAGAIN when none pending).
int sock_accept(sock_t lfd);
int sock_apply(sock_t fd, const conn_opts& o);
int sock_set_nodelay(sock_t fd, bool on);
int sock_set_keepalive(sock_t fd, bool on, int secs);
int sock_set_bufsize(sock_t fd, bool send, int bytes);
int sock_set_linger0(sock_t fd);  // makes close() send RST
// read into buf; returns bytes (0 = EOF) or -errno.
ssize_t sock_read(sock_t fd, void* buf, size_t len);
// gather-write without SIGPIPE; returns bytes or -errno.
ssize_t sock_writev(sock_t fd, const iovec_t* iov, int iovcnt);
int sock_shutdown_write(sock_t fd);
int sock_close(sock_t fd);
int sock_local(sock_t fd, addr* out);
int sock_peer(sock_t fd, addr* out);
int sock_error(sock_t fd);  // SO_ERROR as -errno (0 = none)
// A descriptor to hold in reserve (/dev/null, close-on-exec): fd or -errno.
int sock_spare_open();

}  // namespace rn
