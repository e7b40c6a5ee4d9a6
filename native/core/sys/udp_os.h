// The OS-specific half of sys/udp.h (udp_mmsg_linux.cc, udp_msg_darwin.cc) and the
// sockaddr form of udp_addr that both halves use. Private to native/core/sys/.
#pragma once
#include <sys/socket.h>

#include "sys/udp.h"

namespace rn {

// A non-blocking, close-on-exec datagram socket of family AF_INET / AF_INET6.
int udp_os_socket(int af);
socklen_t udp_to_sockaddr(const udp_addr& u, sockaddr_storage* out);
// 0, or -EAFNOSUPPORT for a family other than IPv4 / IPv6.
int udp_from_sockaddr(const sockaddr_storage& s, udp_addr* out);

}  // namespace rn
