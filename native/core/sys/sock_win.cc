// The socket layer on Windows (Winsock 2): what sock_posix.cc + sock_linux.cc are
// elsewhere. A SOCKET travels through the core as an int: Windows keeps kernel
// handles within 32 bits so 32- and 64-bit processes can share them, which is why
// truncating one is safe ("Interprocess Communication Between 32-bit and 64-bit
// Applications"). Sockets are created non-blocking and not inheritable
// (WSA_FLAG_NO_HANDLE_INHERIT: close-on-exec); Windows has no SIGPIPE to avoid.
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <windows.h>

#include <cstring>
#include <mutex>

#include "rn.h"
#include "sys/err_win.h"
#include "sys/sock.h"
#include "sys/sock_addr.h"

namespace rn {

namespace {

// Winsock wants WSAStartup once per process before any call (Node has made it
// already; it is reference-counted, so one more is harmless).
bool winsock_ready() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    WSADATA wd;
    ok = WSAStartup(MAKEWORD(2, 2), &wd) == 0;
  });
  return ok;
}

SOCKET as_socket(sock_t fd) { return static_cast<SOCKET>(static_cast<uintptr_t>(static_cast<unsigned>(fd))); }
int as_int(SOCKET s) { return static_cast<int>(static_cast<uintptr_t>(s)); }

int set_int_opt(SOCKET s, int level, int name, int value) {
  return setsockopt(s, level, name, reinterpret_cast<const char*>(&value), sizeof(value)) == 0 ? 0 : wsa_errno();
}

int set_nonblocking(SOCKET s) {
  u_long one = 1;
  return ioctlsocket(s, FIONBIO, &one) == 0 ? 0 : wsa_errno();
}

// A non-blocking, non-inheritable TCP socket, as an int; or -errno.
int new_socket(int family) {
  if (!winsock_ready()) return -ENOSYS;
  SOCKET s = WSASocketW(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) return wsa_errno();
  int err = set_nonblocking(s);
  if (err < 0) {
    closesocket(s);
    return err;
  }
  return as_int(s);
}

}  // namespace

int sock_listen(const addr& a, const listen_opts& o, const char** failed_call) {
  *failed_call = "socket";
  int fd = new_socket(a.family);
  if (fd < 0) return fd;
  SOCKET s = as_socket(fd);
  int err = 0;
  // SO_REUSEADDR means something else here: it lets a second socket bind a port in
  // use (steal it), which POSIX's does not. Windows already lets a listener bind a
  // port whose old connections sit in TIME_WAIT, which is all reuse_addr asks for;
  // SO_EXCLUSIVEADDRUSE keeps others off the port, as a POSIX listener would.
  if (o.reuse_port) {
    // No SO_REUSEPORT (several listeners sharing one port, the kernel spreading
    // connections) on Windows.
    err = -ENOTSUP;
    *failed_call = "setsockopt(SO_REUSEPORT)";
  } else if ((err = set_int_opt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1)) < 0) {
    *failed_call = "setsockopt(SO_EXCLUSIVEADDRUSE)";
  } else if (a.family == 6 && (err = set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0) {
    *failed_call = "setsockopt(IPV6_V6ONLY)";
  } else {
    sa_any sa;
    int len = to_sockaddr(a, &sa);
    if (bind(s, &sa.sa, len) != 0) {
      err = wsa_errno();
      *failed_call = "bind";
    } else if (listen(s, o.backlog > 0 ? o.backlog : SOMAXCONN) != 0) {
      err = wsa_errno();
      *failed_call = "listen";
    }
  }
  if (err < 0) {
    closesocket(s);
    return err;
  }
  return fd;
}

int sock_connect(const addr& a) {
  int fd = new_socket(a.family);
  if (fd < 0) return fd;
  SOCKET s = as_socket(fd);
  sa_any sa;
  int len = to_sockaddr(a, &sa);
  if (connect(s, &sa.sa, len) != 0 && WSAGetLastError() != WSAEWOULDBLOCK) {
    int err = wsa_errno();
    closesocket(s);
    return err;
  }
  return fd;
}

int sock_accept(sock_t lfd) {
  SOCKET s = accept(as_socket(lfd), nullptr, nullptr);
  if (s == INVALID_SOCKET) return wsa_errno();
  // An accepted socket inherits the listener's attributes (non-blocking among
  // them); set it anyway, and keep it out of child processes.
  SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0);
  int err = set_nonblocking(s);
  if (err < 0) {
    closesocket(s);
    return err;
  }
  return as_int(s);
}

int sock_set_nodelay(sock_t fd, bool on) { return set_int_opt(as_socket(fd), IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }

int sock_set_keepalive(sock_t fd, bool on, int secs) {
  SOCKET s = as_socket(fd);
  int err = set_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
  if (err < 0 || !on || secs <= 0) return err;
  // Idle time and probe interval in one call (every Windows version has it).
  tcp_keepalive ka;
  ka.onoff = 1;
  ka.keepalivetime = static_cast<ULONG>(secs) * 1000;
  ka.keepaliveinterval = static_cast<ULONG>(secs) * 1000;
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_KEEPALIVE_VALS, &ka, sizeof(ka), nullptr, 0, &bytes, nullptr, nullptr) != 0) return wsa_errno();
  return 0;
}

int sock_set_bufsize(sock_t fd, bool send, int bytes) {
  return set_int_opt(as_socket(fd), SOL_SOCKET, send ? SO_SNDBUF : SO_RCVBUF, bytes);
}

int sock_set_linger0(sock_t fd) {
  linger l;
  l.l_onoff = 1;
  l.l_linger = 0;
  return setsockopt(as_socket(fd), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof(l)) == 0 ? 0
                                                                                                         : wsa_errno();
}

int sock_apply(sock_t fd, const conn_opts& o) {
  int err = 0;
  if (o.nodelay && (err = sock_set_nodelay(fd, true)) < 0) return err;
  if (o.keepalive_secs > 0 && (err = sock_set_keepalive(fd, true, o.keepalive_secs)) < 0) return err;
  if (o.sndbuf > 0 && (err = sock_set_bufsize(fd, true, o.sndbuf)) < 0) return err;
  if (o.rcvbuf > 0 && (err = sock_set_bufsize(fd, false, o.rcvbuf)) < 0) return err;
  return 0;
}

ssize_t sock_read(sock_t fd, void* buf, size_t len) {
  int want = len > 0x7fffffff ? 0x7fffffff : static_cast<int>(len);
  int n = recv(as_socket(fd), static_cast<char*>(buf), want, 0);
  return n >= 0 ? n : wsa_errno();
}

ssize_t sock_writev(sock_t fd, const iovec_t* iov, int iovcnt) {
  // WSABUF is {ULONG len; char* buf}: not iovec's layout, so convert (the loop
  // passes at most a few dozen buffers).
  constexpr int kMax = 64;
  WSABUF b[kMax];
  int n = iovcnt < kMax ? iovcnt : kMax;
  for (int i = 0; i < n; i++) {
    b[i].buf = static_cast<char*>(iov[i].iov_base);
    b[i].len = iov[i].iov_len > 0x7fffffff ? 0x7fffffff : static_cast<ULONG>(iov[i].iov_len);
  }
  DWORD sent = 0;
  if (WSASend(as_socket(fd), b, static_cast<DWORD>(n), &sent, 0, nullptr, nullptr) != 0) return wsa_errno();
  return static_cast<ssize_t>(sent);
}

int sock_shutdown_write(sock_t fd) { return shutdown(as_socket(fd), SD_SEND) == 0 ? 0 : wsa_errno(); }

int sock_close(sock_t fd) { return closesocket(as_socket(fd)) == 0 ? 0 : wsa_errno(); }

int sock_local(sock_t fd, addr* out) {
  sa_any s;
  int len = sizeof(s);
  if (getsockname(as_socket(fd), &s.sa, &len) != 0) return wsa_errno();
  return from_sockaddr(s, len, out);
}

int sock_peer(sock_t fd, addr* out) {
  sa_any s;
  int len = sizeof(s);
  if (getpeername(as_socket(fd), &s.sa, &len) != 0) return wsa_errno();
  return from_sockaddr(s, len, out);
}

int sock_error(sock_t fd) {
  int err = 0;
  int len = sizeof(err);
  if (getsockopt(as_socket(fd), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len) != 0) return wsa_errno();
  return win_errno(static_cast<unsigned long>(err));
}

int sock_spare_open() {
  // The EMFILE reserve: any socket handle will do (sock_close frees it).
  if (!winsock_ready()) return -ENOSYS;
  SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
  return s == INVALID_SOCKET ? wsa_errno() : as_int(s);
}

// unix:// (AF_UNIX exists since Windows 10 1803, but this build does not use it yet):
// refused with EAFNOSUPPORT, so serve/dial of a unix:// address fail with that code.
int sock_parse_unix(const char*, addr*) { return -EAFNOSUPPORT; }

int sock_peercred(sock_t, peer_cred*) { return -ENOTSUP; }

}  // namespace rn
