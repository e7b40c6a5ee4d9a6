// The UDP transport's per-socket half (issue 10), independent of the loop: the
// memory it shares with the host (received datagrams the host views in place,
// sends the host queues) and the two batch operations over it. loop/loop_udp.cc
// puts endpoints on a loop; sys/udp.h makes the OS calls.
//
// Shared memory, written by one side and read by the other, never trusted by
// native: every offset and length the host writes is checked before use.
//   rx      bytes: batch slots of max_dgram bytes; datagram i lands in slot i.
//   rxd     Int32: [count, 0, 0, 0] then per datagram RX_STRIDE words (RD_*).
//   txd     Int32: [count, staged bytes, 0, 0] then per send TX_STRIDE words (TD_*).
//   tx      bytes: the host's copies of what it sends (TD_SRC = TX_SRC_STAGING).
//   stats   Float64: US_* counters.
#pragma once
#include <cstddef>
#include <cstdint>

#include "sys/udp.h"

namespace rn {
namespace udp_layout {

// Bump on any change here; lib/udp.ts checks the addon's copy (binding udpLayout).
constexpr int UDP_LAYOUT_VERSION = 1;
constexpr int RX_COUNT = 0;
constexpr int RX_HEADER = 4;
constexpr int RX_STRIDE = 12;
constexpr int TX_COUNT = 0;
constexpr int TX_STAGED = 1;
constexpr int TX_HEADER = 4;
constexpr int TX_STRIDE = 12;
// A datagram record (RD_*) and a send record (TD_*): the address words are the same.
enum : int32_t {
  RD_OFF = 0, RD_LEN = 1, RD_FLAGS = 2,
  TD_SRC = 0, TD_OFF = 1, TD_LEN = 2,
  A_FAMILY = 3, A_PORT = 4, A_SCOPE = 5, A_IP = 6,  // A_IP..A_IP+3: the 16 address bytes
};
enum : int32_t { RXF_TRUNCATED = 1 };
enum : int32_t { TX_SRC_STAGING = 0, TX_SRC_RX = 1 };
enum : int32_t {
  US_DATAGRAMS_IN = 0, US_BYTES_IN = 1, US_DATAGRAMS_OUT = 2, US_BYTES_OUT = 3, US_TRUNCATED = 4,
  US_RECV_CALLS = 5, US_SEND_CALLS = 6, US_SEND_ERRORS = 7, US_SEND_BLOCKED = 8, US_RECV_ERRORS = 9,
  US_COUNT = 10,
};

}  // namespace udp_layout

struct udp_config {
  uint32_t max_dgram = 65535;   // bytes per receive slot; longer datagrams are truncated (RXF_TRUNCATED)
  uint32_t batch = 32;          // datagrams per receive syscall (and per host call)
  uint32_t tx_entries = 1024;   // sends the host can queue between flushes
  uint32_t tx_bytes = 256 * 1024;  // the host's staging bytes
};

struct udp_sizes {
  size_t rx, rxd, txd, tx, stats;
};
udp_sizes udp_shared_sizes(const udp_config& c);

struct udp_shared {
  uint8_t* rx = nullptr;
  int32_t* rxd = nullptr;
  int32_t* txd = nullptr;
  uint8_t* tx = nullptr;
  double* stats = nullptr;
};

struct udp_endpoint {
  sock_t fd = -1;
  int family = 4;
  udp_config cfg;
  udp_shared shm;
  udp_io* io = nullptr;
  int io_n = 0;
  udp_msg* msgs = nullptr;  // io_n of them
  int last_send_error = 0;  // -errno of the last send the kernel refused (not EAGAIN)
};

// Clamps cfg to sane bounds (max_dgram 1..65535, batch 1..1024) and sizes the
// scratch. 0 or -ENOMEM. The endpoint does not own fd.
int udp_ep_init(udp_endpoint* e, sock_t fd, int family, const udp_config& cfg, const udp_shared& shm);
void udp_ep_free(udp_endpoint* e);
// Receive one batch into rx / rxd: the count (>= 1), -EAGAIN, or -errno.
int udp_ep_read(udp_endpoint* e);
// Send what the host queued in txd. 0: everything went (or was refused and
// counted: a datagram the kernel rejects, e.g. EMSGSIZE, is dropped and named by
// last_send_error); -EAGAIN: the socket's send buffer is full, what is left is
// moved to the front of txd (staged bytes stay where they are) for the next flush.
int udp_ep_flush(udp_endpoint* e);
// Sends queued in txd.
inline int32_t udp_ep_pending(const udp_endpoint* e) { return e->shm.txd[udp_layout::TX_COUNT]; }

}  // namespace rn
