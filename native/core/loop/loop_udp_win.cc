// UDP where it is not built (Windows: the AFD backend has no datagram path yet):
// loop_udp_open refuses with -ENOTSUP, which the binding reports as
// ERR_RINGNET_UNSUPPORTED. The loop's UDP hooks do nothing (no socket exists).
#include "loop/loop_impl.h"
#include "loop/loop_udp.h"

namespace rn {

struct udp_sock {};

udp_sock* loop::udp_get(int) { return nullptr; }
void loop::udp_ready(uint32_t, uint32_t) {}
void loop::udp_uring_done(uint32_t, uint32_t, uint64_t, int32_t, bool) {}
void loop::udp_arm(uint32_t, udp_sock*) {}
void loop::udp_read(uint32_t, udp_sock*) {}
bool loop::udp_flush(uint32_t, udp_sock*) { return true; }
void loop::udp_finish_close(uint32_t, udp_sock*) {}
void loop::udp_close_all() { udps.clear(); }

udp_sizes udp_shared_sizes(const udp_config& c) {
  udp_sizes s;
  s.rx = static_cast<size_t>(c.batch) * c.max_dgram;
  s.rxd = (udp_layout::RX_HEADER + static_cast<size_t>(c.batch) * udp_layout::RX_STRIDE) * 4;
  s.txd = (udp_layout::TX_HEADER + static_cast<size_t>(c.tx_entries) * udp_layout::TX_STRIDE) * 4;
  s.tx = c.tx_bytes;
  s.stats = udp_layout::US_COUNT * sizeof(double);
  return s;
}

int loop_udp_open(loop*, const addr&, const udp_opts&, const udp_config&, const udp_shared&, const udp_host&, addr*,
                  const char** failed_call) {
  *failed_call = "udp";
  return -ENOTSUP;
}
int loop_udp_flush(loop*, int) { return -EBADF; }
int loop_udp_close(loop*, int) { return -EBADF; }
int loop_udp_take_error(loop*, int) { return -EBADF; }
int loop_udp_set_opt(loop*, int, udp_opt, int) { return -EBADF; }
int loop_udp_get_opt(loop*, int, udp_opt) { return -EBADF; }
int loop_udp_mcast_iface(loop*, int, const char*) { return -EBADF; }
int loop_udp_membership(loop*, int, bool, const char*, const char*) { return -EBADF; }

}  // namespace rn

namespace rn {
int udp_addr_from(const addr&, udp_addr*) { return -ENOTSUP; }
}  // namespace rn
