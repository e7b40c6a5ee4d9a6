// The Unix domain half of sock_posix.cc (sys/sock_unix.cc); sock.h has the public
// calls (sock_parse_unix, sock_peercred).
#pragma once
#include <sys/socket.h>

#include "sys/sock.h"

namespace rn {

// a (family kFamilyUnix) as a sockaddr_un in *ss; returns its length.
socklen_t unix_to_sockaddr(const addr& a, sockaddr_storage* ss);
void unix_from_sockaddr(const sockaddr_storage& ss, socklen_t len, addr* out);
// Before bind: a stale socket file (connect refused) is removed; a live one, or
// any other kind of file under that name, is -EADDRINUSE.
int unix_prepare_bind(const addr& a);
// After bind: the file mode (mode < 0: leave it).
int unix_after_bind(const addr& a, int mode);

}  // namespace rn
