// UDP sockets on a loop (issue 10): each is a transport/udp.h endpoint whose fd the
// loop watches (epoll: edge-triggered readiness; io_uring: a one-shot poll, then
// recvmmsg). A readable socket is read a batch at a time: each batch (up to
// udp_config.batch datagrams, one recvmmsg) is one call to its host, after which
// the sends the host queued go out with sendmmsg. A send buffer that fills stops
// reading until it drains (the kernel then drops inbound datagrams, as UDP does).
// All functions: the loop's thread only.
#pragma once
#include "loop/loop.h"
#include "sys/udp.h"
#include "transport/udp.h"

namespace rn {

struct udp_host {
  void* ud = nullptr;
  // A batch of `count` datagrams is in the socket's rxd/rx; the host may queue
  // sends (txd/tx) and call the functions below (loop_udp_close included).
  void (*on_batch)(void* ud, int32_t count) = nullptr;
};

// Open and bind a UDP socket on l: its id (>= 0), or -errno with *failed_call set.
// shm must hold udp_shared_sizes(cfg) bytes per region and outlive the socket.
// -ENOTSUP where UDP is not built (Windows).
int loop_udp_open(loop* l, const addr& a, const udp_opts& o, const udp_config& cfg, const udp_shared& shm,
                  const udp_host& h, addr* bound, const char** failed_call);
// Send what is queued now. 0: sent; -EAGAIN: the rest goes when the socket is
// writable; -EBADF: no such socket.
int loop_udp_flush(loop* l, int id);
// Close (queued sends that did not go yet are dropped). Inside its own on_batch
// the socket closes once the call returns. 0 or -EBADF.
int loop_udp_close(loop* l, int id);
// The last send the kernel refused for this socket (-errno; 0: none), then clears it.
int loop_udp_take_error(loop* l, int id);
int loop_udp_set_opt(loop* l, int id, udp_opt opt, int value);
int loop_udp_get_opt(loop* l, int id, udp_opt opt);
int loop_udp_mcast_iface(loop* l, int id, const char* iface);
int loop_udp_membership(loop* l, int id, bool join, const char* group, const char* iface);

}  // namespace rn
