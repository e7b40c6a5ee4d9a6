// What each Unix does its own way, implemented once per OS: sock_linux.cc (Linux),
// sock_darwin.cc (macOS and the BSDs). sock_unix.cc holds everything they share.
// Internal to sys/: nothing outside sys/ includes this.
#pragma once
#include <sys/types.h>

#include "sys/sock.h"

namespace rn {

// A non-blocking, close-on-exec TCP socket of family 4 or 6 that never raises
// SIGPIPE on send (Linux: MSG_NOSIGNAL per send; Darwin: SO_NOSIGPIPE here).
// Returns the fd or -errno.
int sock_os_stream(int family);
// setsockopt(fd, level, name, int value): 0 or -errno. Shared helper (sock_unix.cc).
int set_int_opt(int fd, int level, int name, int value);

// Also implemented per OS, declared in sock.h: sock_accept (non-blocking +
// cloexec + no SIGPIPE), sock_writev (no SIGPIPE), sock_set_keepalive (idle and
// interval timing by the OS's names).

}  // namespace rn
