// UDP sockets (issue 10): every OS call the UDP transport makes. udp_posix.cc has
// the sockets, options and membership; udp_mmsg_linux.cc the batched I/O with
// recvmmsg / sendmmsg (one syscall per batch); udp_msg_darwin.cc the same contract
// with a recvmsg / sendmsg loop where there is no *mmsg (macOS).
#pragma once
#include <cstdint>

#include "sys/sock.h"

namespace rn {

// An IP address and port in binary form: what a datagram's sender is, and what a
// send goes to. family 4 (ip[0..3]) or 6 (ip[0..15], scope = IPv6 scope id).
struct udp_addr {
  uint8_t family = 0;
  uint16_t port = 0;
  uint32_t scope = 0;
  uint8_t ip[16] = {0};
};

// A numeric address (addr: family 4 or 6) in binary form; -EINVAL if not numeric.
int udp_addr_from(const addr& a, udp_addr* out);
void udp_addr_to(const udp_addr& u, addr* out);

struct udp_opts {
  bool reuse_addr = false;
  bool reuse_port = false;  // SO_REUSEPORT (Linux: the kernel spreads datagrams by 4-tuple)
  bool ipv6_only = false;   // an IPv6 socket takes IPv4-mapped traffic unless set
  int rcvbuf = 0;           // SO_RCVBUF (0: kernel default)
  int sndbuf = 0;           // SO_SNDBUF
};

// Open, configure and bind a non-blocking, close-on-exec UDP socket. fd, or -errno
// with *failed_call naming the syscall.
int udp_open(const addr& a, const udp_opts& o, const char** failed_call);

// Socket options by node:dgram's names.
enum udp_opt : int32_t {
  UDP_OPT_BROADCAST = 0,      // SO_BROADCAST, value 0/1
  UDP_OPT_TTL = 1,            // IP_TTL / IPV6_UNICAST_HOPS, 1..255
  UDP_OPT_MCAST_TTL = 2,      // IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS, 0..255
  UDP_OPT_MCAST_LOOP = 3,     // IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP, 0/1
  UDP_OPT_RCVBUF = 4,         // bytes
  UDP_OPT_SNDBUF = 5,         // bytes
};
// family: the socket's (4 or 6). 0 or -errno.
int udp_set_opt(sock_t fd, int family, udp_opt opt, int value);
// A socket option's value (UDP_OPT_RCVBUF / SNDBUF: what the kernel granted). value or -errno.
int udp_get_opt(sock_t fd, int family, udp_opt opt);
// IP_MULTICAST_IF / IPV6_MULTICAST_IF. IPv4: iface is an address of the interface;
// IPv6: iface is "::%name", "%name" or an interface index given as a number string.
int udp_set_mcast_iface(sock_t fd, int family, const char* iface);
// Join (or leave) group on the interface iface (nullptr or "": the kernel's choice).
int udp_membership(sock_t fd, int family, bool join, const char* group, const char* iface);

// One datagram of a batch. recv: data/cap in, len/truncated/peer out. send:
// data/len/peer in.
struct udp_msg {
  uint8_t* data = nullptr;
  uint32_t cap = 0;
  uint32_t len = 0;
  bool truncated = false;
  udp_addr peer;
};

// OS scratch for batches of up to n datagrams (mmsghdr, iovec, sockaddr arrays):
// made once per socket, so a batch allocates nothing.
struct udp_io;
udp_io* udp_io_new(int n);
void udp_io_free(udp_io* io);

// Receive up to n datagrams (n <= the io's size) in one syscall where the OS can.
// Returns the count (>= 1), -EAGAIN when none is waiting, or -errno.
int udp_recv(sock_t fd, udp_io* io, udp_msg* m, int n);
// Send m[0..n) in order; returns how many the kernel took (a prefix, >= 1), or
// -errno for m[0] (-EAGAIN: the send buffer is full).
int udp_send(sock_t fd, udp_io* io, const udp_msg* m, int n);

}  // namespace rn
