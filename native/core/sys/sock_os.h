// The OS-specific half of the socket layer; sock_posix.cc is the common half.
// One file per OS implements these: sys/sock_linux.cc, sys/sock_darwin.cc (macOS and
// the BSDs). Each returns an fd or -errno.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

namespace rn {

// A TCP socket that is non-blocking, close-on-exec and never raises SIGPIPE.
int sock_os_socket(int family);
// accept() with the same three properties for the accepted socket.
int sock_os_accept(int lfd);
// sendmsg() that turns a vanished peer into -EPIPE, never a SIGPIPE.
ssize_t sock_os_sendmsg(int fd, const msghdr* msg);
// send() of one buffer, with the same guarantee. The common write is one buffer
// (an echo, a reply), and Linux's send() skips sendmsg()'s copy-in of a msghdr and
// an iovec array (issue 9 profile: ~0.3 us of ~11 per 4 KiB echo on the 2026-12-07
// host).
ssize_t sock_os_send(int fd, const void* buf, size_t len);
// SO_PEERCRED (Linux) / getpeereid (the BSDs; pid -1, or LOCAL_PEERPID on macOS).
int sock_os_peercred(int fd, int* pid, int* uid, int* gid);
// Whether Linux abstract names ('@name') exist here.
bool sock_os_has_abstract();

}  // namespace rn
