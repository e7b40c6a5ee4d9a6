// Socket addresses between the core's neutral form (sys/sock.h: addr) and the OS's
// sockaddr, shared by every OS's socket layer (sock_posix.cc, sock_win.cc) and by
// anything else that hands addresses to the OS (UDP's sendto/recvfrom). Pure
// conversions: no socket calls. sock_parse (numeric host + port into an addr) is
// declared in sys/sock.h and defined with these in sock_addr.cc.
#pragma once
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include "sys/sock.h"

namespace rn {

union sa_any {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
  sockaddr_storage ss;
};

// a as a sockaddr in *out (zeroed first); returns its length. Family 4 or 6; on
// POSIX also kFamilyUnix (sys/sock_unix.cc). 0 for a family this OS has no
// sockaddr for (Windows: kFamilyUnix, which sock_parse_unix refuses there).
socklen_t to_sockaddr(const addr& a, sa_any* out);
// The first len bytes of s (from getsockname, getpeername, accept, recvfrom) into
// *out: 0, or -EAFNOSUPPORT for a family other than AF_INET, AF_INET6 and (POSIX)
// AF_UNIX.
int from_sockaddr(const sa_any& s, socklen_t len, addr* out);

}  // namespace rn
