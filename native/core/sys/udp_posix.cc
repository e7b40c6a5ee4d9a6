// UDP sockets on POSIX systems: open/bind, options, multicast membership, and the
// binary address form (sys/udp.h). Batched I/O is per OS: udp_mmsg_linux.cc,
// udp_msg_darwin.cc.
#include "sys/udp.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rn.h"
#include "sys/udp_os.h"

namespace rn {

namespace {

int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : neg_errno();
}

// An IPv6 interface: "%eth0", "::%eth0", "fe80::1%2" or "2" -> its index; 0 if none given.
int v6_iface_index(const char* iface, unsigned* out) {
  *out = 0;
  if (!iface || !*iface) return 0;
  const char* pct = strchr(iface, '%');
  const char* name = pct ? pct + 1 : iface;
  char* end = nullptr;
  unsigned long n = strtoul(name, &end, 10);
  if (end && *end == '\0' && end != name) {
    *out = static_cast<unsigned>(n);
    return 0;
  }
  unsigned idx = if_nametoindex(name);
  if (idx == 0) return -ENXIO;
  *out = idx;
  return 0;
}

}  // namespace

int udp_addr_from(const addr& a, udp_addr* out) {
  *out = udp_addr{};
  out->port = a.port;
  if (a.family == 4) {
    out->family = 4;
    return inet_pton(AF_INET, a.host, out->ip) == 1 ? 0 : -EINVAL;
  }
  if (a.family == 6) {
    out->family = 6;
    char host[sizeof(a.host)];
    memcpy(host, a.host, sizeof(host));
    host[sizeof(host) - 1] = '\0';
    if (char* pct = strchr(host, '%')) {  // fe80::1%eth0: the scope
      unsigned idx = 0;
      if (v6_iface_index(pct, &idx) < 0) return -EINVAL;
      out->scope = idx;
      *pct = '\0';
    }
    return inet_pton(AF_INET6, host, out->ip) == 1 ? 0 : -EINVAL;
  }
  return -EAFNOSUPPORT;
}

void udp_addr_to(const udp_addr& u, addr* out) {
  *out = addr{};
  out->port = u.port;
  out->family = u.family == 6 ? 6 : 4;
  inet_ntop(u.family == 6 ? AF_INET6 : AF_INET, u.ip, out->host, sizeof(out->host));
}

socklen_t udp_to_sockaddr(const udp_addr& u, sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  if (u.family == 6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(out);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(u.port);
    s->sin6_scope_id = u.scope;
    memcpy(&s->sin6_addr, u.ip, 16);
    return sizeof(sockaddr_in6);
  }
  auto* s = reinterpret_cast<sockaddr_in*>(out);
  s->sin_family = AF_INET;
  s->sin_port = htons(u.port);
  memcpy(&s->sin_addr, u.ip, 4);
  return sizeof(sockaddr_in);
}

int udp_from_sockaddr(const sockaddr_storage& ss, udp_addr* out) {
  if (ss.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
    out->family = 6;
    out->port = ntohs(s->sin6_port);
    out->scope = s->sin6_scope_id;
    memcpy(out->ip, &s->sin6_addr, 16);
    return 0;
  }
  if (ss.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    out->family = 4;
    out->port = ntohs(s->sin_port);
    out->scope = 0;
    memcpy(out->ip, &s->sin_addr, 4);
    memset(out->ip + 4, 0, 12);
    return 0;
  }
  return -EAFNOSUPPORT;
}

int udp_open(const addr& a, const udp_opts& o, const char** failed_call) {
  udp_addr u;
  *failed_call = "bind";
  if (udp_addr_from(a, &u) < 0) return -EINVAL;
  *failed_call = "socket";
  int fd = udp_os_socket(u.family == 6 ? AF_INET6 : AF_INET);
  if (fd < 0) return fd;
  int err = 0;
  if (!err && o.reuse_addr && (err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0) *failed_call = "setsockopt(SO_REUSEADDR)";
#ifdef SO_REUSEPORT
  if (!err && o.reuse_port && (err = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0) *failed_call = "setsockopt(SO_REUSEPORT)";
#else
  if (!err && o.reuse_port) {
    err = -ENOTSUP;
    *failed_call = "setsockopt(SO_REUSEPORT)";
  }
#endif
  if (!err && u.family == 6 && (err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, o.ipv6_only ? 1 : 0)) < 0) *failed_call = "setsockopt(IPV6_V6ONLY)";
  if (!err && o.rcvbuf > 0 && (err = set_int(fd, SOL_SOCKET, SO_RCVBUF, o.rcvbuf)) < 0) *failed_call = "setsockopt(SO_RCVBUF)";
  if (!err && o.sndbuf > 0 && (err = set_int(fd, SOL_SOCKET, SO_SNDBUF, o.sndbuf)) < 0) *failed_call = "setsockopt(SO_SNDBUF)";
  if (!err) {
    sockaddr_storage ss;
    socklen_t len = udp_to_sockaddr(u, &ss);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      err = neg_errno();
      *failed_call = "bind";
    }
  }
  if (err) {
    close(fd);
    return err;
  }
  return fd;
}

int udp_set_opt(sock_t fd, int family, udp_opt opt, int value) {
  bool v6 = family == 6;
  switch (opt) {
    case UDP_OPT_BROADCAST: return set_int(fd, SOL_SOCKET, SO_BROADCAST, value ? 1 : 0);
    case UDP_OPT_TTL:
      if (value < 1 || value > 255) return -EINVAL;
      return v6 ? set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, value) : set_int(fd, IPPROTO_IP, IP_TTL, value);
    case UDP_OPT_MCAST_TTL:
      if (value < 0 || value > 255) return -EINVAL;
      if (v6) return set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, value);
      {
        unsigned char t = static_cast<unsigned char>(value);  // a byte on the BSDs; Linux takes either
        return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof(t)) == 0 ? 0 : neg_errno();
      }
    case UDP_OPT_MCAST_LOOP:
      if (v6) return set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, value ? 1 : 0);
      {
        unsigned char t = value ? 1 : 0;
        return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &t, sizeof(t)) == 0 ? 0 : neg_errno();
      }
    case UDP_OPT_RCVBUF: return value > 0 ? set_int(fd, SOL_SOCKET, SO_RCVBUF, value) : -EINVAL;
    case UDP_OPT_SNDBUF: return value > 0 ? set_int(fd, SOL_SOCKET, SO_SNDBUF, value) : -EINVAL;
  }
  return -EINVAL;
}

int udp_get_opt(sock_t fd, int family, udp_opt opt) {
  (void)family;
  int v = 0;
  socklen_t len = sizeof(v);
  int name = opt == UDP_OPT_RCVBUF ? SO_RCVBUF : opt == UDP_OPT_SNDBUF ? SO_SNDBUF : -1;
  if (name < 0) return -EINVAL;
  if (getsockopt(fd, SOL_SOCKET, name, &v, &len) != 0) return neg_errno();
  return v;
}

int udp_set_mcast_iface(sock_t fd, int family, const char* iface) {
  if (family == 6) {
    unsigned idx = 0;
    int r = v6_iface_index(iface, &idx);
    if (r < 0) return r;
    return setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)) == 0 ? 0 : neg_errno();
  }
  in_addr a{};
  if (iface && *iface && inet_pton(AF_INET, iface, &a) != 1) return -EINVAL;
  return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof(a)) == 0 ? 0 : neg_errno();
}

int udp_membership(sock_t fd, int family, bool join, const char* group, const char* iface) {
  if (family == 6) {
    ipv6_mreq m{};
    if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) != 1) return -EINVAL;
    unsigned idx = 0;
    int r = v6_iface_index(iface, &idx);
    if (r < 0) return r;
    m.ipv6mr_interface = idx;
#ifdef IPV6_ADD_MEMBERSHIP
    int name = join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP;
#else
    int name = join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP;
#endif
    return setsockopt(fd, IPPROTO_IPV6, name, &m, sizeof(m)) == 0 ? 0 : neg_errno();
  }
  ip_mreq m{};
  if (inet_pton(AF_INET, group, &m.imr_multiaddr) != 1) return -EINVAL;
  if (iface && *iface) {
    if (inet_pton(AF_INET, iface, &m.imr_interface) != 1) return -EINVAL;
  } else {
    m.imr_interface.s_addr = htonl(INADDR_ANY);
  }
  return setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof(m)) == 0 ? 0 : neg_errno();
}

}  // namespace rn
