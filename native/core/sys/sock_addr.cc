// Address parsing and sockaddr conversion (sys/sock_addr.h), the same on every OS:
// inet_pton / inet_ntop and the sockaddr layouts are common to POSIX and Winsock.
// The Unix domain half is POSIX only (sys/sock_unix.cc).
#include "sys/sock_addr.h"

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include "sys/sock_unix.h"
#endif

#include <cerrno>
#include <cstring>

namespace rn {

int sock_parse(const char* host, uint16_t port, addr* out) {
  unsigned char tmp[16];
  if (strlen(host) >= sizeof(out->host)) return -EINVAL;
  if (inet_pton(AF_INET, host, tmp) == 1) {
    out->family = 4;
  } else if (inet_pton(AF_INET6, host, tmp) == 1) {
    out->family = 6;
  } else {
    return -EINVAL;
  }
  strcpy(out->host, host);
  out->port = port;
  return 0;
}

socklen_t to_sockaddr(const addr& a, sa_any* out) {
  memset(out, 0, sizeof(*out));
  if (a.family == kFamilyUnix) {
#ifdef _WIN32
    return 0;
#else
    return unix_to_sockaddr(a, &out->ss);
#endif
  }
  if (a.family == 6) {
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons(a.port);
    inet_pton(AF_INET6, a.host, &out->v6.sin6_addr);
    return sizeof(sockaddr_in6);
  }
  out->v4.sin_family = AF_INET;
  out->v4.sin_port = htons(a.port);
  inet_pton(AF_INET, a.host, &out->v4.sin_addr);
  return sizeof(sockaddr_in);
}

int from_sockaddr(const sa_any& s, socklen_t len, addr* out) {
#ifndef _WIN32
  if (s.sa.sa_family == AF_UNIX) {
    unix_from_sockaddr(s.ss, len, out);
    return 0;
  }
#else
  (void)len;
#endif
  if (s.sa.sa_family == AF_INET6) {
    out->family = 6;
    out->port = ntohs(s.v6.sin6_port);
    inet_ntop(AF_INET6, &s.v6.sin6_addr, out->host, sizeof(out->host));
    return 0;
  }
  if (s.sa.sa_family == AF_INET) {
    out->family = 4;
    out->port = ntohs(s.v4.sin_port);
    inet_ntop(AF_INET, &s.v4.sin_addr, out->host, sizeof(out->host));
    return 0;
  }
  return -EAFNOSUPPORT;
}

}  // namespace rn
