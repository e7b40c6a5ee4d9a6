// UDP (issue 10): sys/udp.h batches over real loopback sockets, the endpoint's
// shared-memory contract (transport/udp.h: records, truncation, garbage from the
// host), and sockets on a loop (loop/loop_udp.h): a batch is one host call and the
// replies it queues go out after it. Runs on epoll, io_uring (RINGNET_BACKEND) and
// the kqueue emulation.
#include <cstring>
#include <string>
#include <vector>

#include "loop/loop_udp.h"
#include "loop_fixture.h"
#include "sys/clock.h"
#include "sys/udp.h"
#include "transport/udp.h"

using namespace fixture;
using namespace rn::udp_layout;

namespace {

struct regions {
  std::vector<uint8_t> rx, tx;
  std::vector<int32_t> rxd, txd;
  std::vector<double> stats;
  udp_shared shm;
  explicit regions(const udp_config& c) {
    udp_sizes s = udp_shared_sizes(c);
    rx.assign(s.rx, 0);
    tx.assign(s.tx, 0);
    rxd.assign(s.rxd / 4, 0);
    txd.assign(s.txd / 4, 0);
    stats.assign(s.stats / 8, 0);
    shm.rx = rx.data();
    shm.tx = tx.data();
    shm.rxd = rxd.data();
    shm.txd = txd.data();
    shm.stats = stats.data();
  }
};

addr loopback(uint16_t port = 0, bool v6 = false) {
  addr a;
  CHECK_EQ(sock_parse(v6 ? "::1" : "127.0.0.1", port, &a), 0);
  return a;
}

int open_udp(addr* bound, bool v6 = false) {
  const char* failed = nullptr;
  udp_opts o;
  int fd = udp_open(loopback(0, v6), o, &failed);
  CHECK(fd >= 0);
  CHECK_EQ(sock_local(fd, bound), 0);
  return fd;
}

// Queue one send record: bytes copied to staging, to `to`.
void queue(regions& r, const std::string& bytes, const addr& to) {
  int32_t n = r.txd[TX_COUNT], staged = r.txd[TX_STAGED];
  memcpy(r.tx.data() + staged, bytes.data(), bytes.size());
  int32_t* w = r.txd.data() + TX_HEADER + n * TX_STRIDE;
  udp_addr u;
  CHECK_EQ(udp_addr_from(to, &u), 0);
  w[TD_SRC] = TX_SRC_STAGING;
  w[TD_OFF] = staged;
  w[TD_LEN] = static_cast<int32_t>(bytes.size());
  w[A_FAMILY] = u.family;
  w[A_PORT] = u.port;
  w[A_SCOPE] = 0;
  memcpy(w + A_IP, u.ip, 16);
  r.txd[TX_COUNT] = n + 1;
  r.txd[TX_STAGED] = staged + static_cast<int32_t>(bytes.size());
}

int read_some(udp_endpoint& e, int want, int ms = 2000) {
  uint64_t end = mono_ms() + static_cast<uint64_t>(ms);
  int got = 0;
  while (got < want && mono_ms() < end) {
    int n = udp_ep_read(&e);
    if (n > 0) return n;
    CHECK_EQ(n, -EAGAIN);
  }
  return got;
}

}  // namespace

// A batch of sends goes in one flush and arrives as one batch, in order, with the
// sender's address; a datagram over max_dgram is cut and flagged.
TEST(endpoint_batch_and_truncation) {
  addr a_addr, b_addr;
  int a = open_udp(&a_addr), b = open_udp(&b_addr);
  udp_config c;
  c.max_dgram = 16;
  c.batch = 8;
  regions ra(c), rb(c);
  udp_endpoint ea, eb;
  CHECK_EQ(udp_ep_init(&ea, a, 4, c, ra.shm), 0);
  CHECK_EQ(udp_ep_init(&eb, b, 4, c, rb.shm), 0);
  CHECK_EQ(udp_ep_read(&eb), -EAGAIN);
  for (int i = 0; i < 5; i++) queue(ra, "msg" + std::to_string(i), b_addr);
  queue(ra, std::string(40, 'z'), b_addr);  // longer than max_dgram
  CHECK_EQ(udp_ep_flush(&ea), 0);
  CHECK_EQ(ra.txd[TX_COUNT], 0);
  CHECK_EQ(ra.txd[TX_STAGED], 0);
  CHECK_EQ(ra.stats[US_DATAGRAMS_OUT], 6.0);
  CHECK_EQ(ra.stats[US_SEND_CALLS], 1.0);  // one sendmmsg
  int n = read_some(eb, 6);
  CHECK_EQ(n, 6);
  CHECK_EQ(rb.rxd[RX_COUNT], 6);
  for (int i = 0; i < 6; i++) {
    const int32_t* w = rb.rxd.data() + RX_HEADER + i * RX_STRIDE;
    CHECK_EQ(w[A_FAMILY], 4);
    CHECK_EQ(w[A_PORT], static_cast<int32_t>(a_addr.port));
    std::string got(reinterpret_cast<const char*>(rb.rx.data() + w[RD_OFF]), static_cast<size_t>(w[RD_LEN]));
    if (i < 5) {
      CHECK_EQ(got, "msg" + std::to_string(i));
      CHECK_EQ(w[RD_FLAGS], 0);
    } else {
      CHECK_EQ(got, std::string(16, 'z'));
      CHECK_EQ(w[RD_FLAGS], RXF_TRUNCATED);
    }
  }
  CHECK_EQ(rb.stats[US_TRUNCATED], 1.0);
  CHECK_EQ(rb.stats[US_RECV_CALLS], 1.0);  // one recvmmsg
  udp_ep_free(&ea);
  udp_ep_free(&eb);
  sock_close(a);
  sock_close(b);
}

// Garbage in the send records (what a buggy or hostile host may write) is
// dropped and counted: never read out of bounds, never a crash.
TEST(endpoint_garbage_records) {
  addr a_addr, b_addr;
  int a = open_udp(&a_addr), b = open_udp(&b_addr);
  udp_config c;
  c.max_dgram = 64;
  c.batch = 4;
  c.tx_entries = 8;
  c.tx_bytes = 65536;
  regions ra(c), rb(c);
  udp_endpoint ea, eb;
  CHECK_EQ(udp_ep_init(&ea, a, 4, c, ra.shm), 0);
  CHECK_EQ(udp_ep_init(&eb, b, 4, c, rb.shm), 0);
  queue(ra, "good", b_addr);
  int32_t* w = ra.txd.data() + TX_HEADER;
  // record 1: offset past staging; 2: negative length; 3: rx source past rx;
  // 4: bad family; 5: bad source kind; 6: IPv6 on an IPv4 socket.
  int32_t bad[][3] = {{TX_SRC_STAGING, 65530, 100}, {TX_SRC_STAGING, 0, -5}, {TX_SRC_RX, 250, 10}, {TX_SRC_STAGING, 0, 4}, {7, 0, 4}, {TX_SRC_STAGING, 0, 4}};
  for (int i = 0; i < 6; i++) {
    int32_t* r = w + (i + 1) * TX_STRIDE;
    memcpy(r, w, TX_STRIDE * 4);
    r[TD_SRC] = bad[i][0];
    r[TD_OFF] = bad[i][1];
    r[TD_LEN] = bad[i][2];
    if (i == 3) r[A_FAMILY] = 99;
    if (i == 5) r[A_FAMILY] = 6;
  }
  ra.txd[TX_COUNT] = 1000000;  // more than tx_entries: clamped
  CHECK_EQ(udp_ep_flush(&ea), 0);
  CHECK(ra.stats[US_SEND_ERRORS] >= 6.0);
  CHECK_EQ(ra.txd[TX_COUNT], 0);
  CHECK_EQ(read_some(eb, 1), 1);  // only the good one
  CHECK_EQ(rb.rxd[RX_COUNT], 1);
  udp_ep_free(&ea);
  udp_ep_free(&eb);
  sock_close(a);
  sock_close(b);
}

TEST(ipv6_and_options) {
  addr b6;
  int b = open_udp(&b6, true);
  CHECK_EQ(b6.family, 6);
  CHECK_EQ(udp_set_opt(b, 6, UDP_OPT_MCAST_TTL, 3), 0);
  CHECK_EQ(udp_set_opt(b, 6, UDP_OPT_TTL, 0), -EINVAL);
  CHECK_EQ(udp_set_opt(b, 6, UDP_OPT_BROADCAST, 1), 0);
  CHECK(udp_get_opt(b, 6, UDP_OPT_RCVBUF) > 0);
  CHECK_EQ(udp_membership(b, 6, true, "not an address", nullptr), -EINVAL);
  int a = -1;
  addr a4;
  a = open_udp(&a4);
  CHECK_EQ(udp_membership(a, 4, true, "239.255.1.2", "127.0.0.1"), 0);
  CHECK_EQ(udp_membership(a, 4, false, "239.255.1.2", "127.0.0.1"), 0);
  CHECK_EQ(udp_membership(a, 4, true, "127.0.0.1", nullptr), -EINVAL);  // not multicast
  const char* failed = nullptr;
  udp_opts o;
  CHECK_EQ(udp_open(a4, o, &failed), -EADDRINUSE);  // same port, no reuse
  CHECK_EQ(std::string(failed), "bind");
  sock_close(a);
  sock_close(b);
}

// On a loop: each readable batch is one host call; replies queued in it go out
// after it returns; closing from inside the call is deferred to its end.
TEST(loop_udp_echo) {
  test_loop t;
  udp_config c;
  c.batch = 16;
  c.max_dgram = 2048;
  regions r(c);
  struct host_state {
    regions* r;
    int calls = 0, datagrams = 0;
    int close_at = -1;
    loop* l = nullptr;
    int id = -1;
  } hs;
  hs.r = &r;
  udp_host h;
  h.ud = &hs;
  h.on_batch = [](void* ud, int32_t count) {
    auto* s = static_cast<host_state*>(ud);
    s->calls++;
    CHECK_EQ(count, s->r->rxd[RX_COUNT]);
    for (int i = 0; i < count; i++) {  // echo each by reference to the rx slot
      const int32_t* d = s->r->rxd.data() + RX_HEADER + i * RX_STRIDE;
      int32_t n = s->r->txd[TX_COUNT];
      int32_t* w = s->r->txd.data() + TX_HEADER + n * TX_STRIDE;
      memcpy(w, d, RX_STRIDE * 4);
      w[TD_SRC] = TX_SRC_RX;
      w[TD_OFF] = d[RD_OFF];
      w[TD_LEN] = d[RD_LEN];
      s->r->txd[TX_COUNT] = n + 1;
      s->datagrams++;
    }
    if (s->close_at >= 0 && s->datagrams >= s->close_at) CHECK_EQ(loop_udp_close(s->l, s->id), 0);
  };
  addr bound;
  const char* failed = nullptr;
  udp_opts o;
  int id = loop_udp_open(t.l, loopback(), o, c, r.shm, h, &bound, &failed);
  CHECK(id >= 0);
  hs.l = t.l;
  hs.id = id;
  addr caddr;
  int cli = open_udp(&caddr);
  udp_config cc;
  cc.batch = 64;
  regions rc(cc);
  udp_endpoint ec;
  CHECK_EQ(udp_ep_init(&ec, cli, 4, cc, rc.shm), 0);
  for (int i = 0; i < 40; i++) queue(rc, "d" + std::to_string(i), bound);
  CHECK_EQ(udp_ep_flush(&ec), 0);
  int back = 0;
  uint64_t end = mono_ms() + 3000;
  while (back < 40 && mono_ms() < end) {
    CHECK(t.run(5) >= 0);
    int n = udp_ep_read(&ec);
    if (n > 0) {
      for (int i = 0; i < n; i++) {
        const int32_t* w = rc.rxd.data() + RX_HEADER + i * RX_STRIDE;
        std::string got(reinterpret_cast<const char*>(rc.rx.data() + w[RD_OFF]), static_cast<size_t>(w[RD_LEN]));
        CHECK_EQ(got, "d" + std::to_string(back + i));
        CHECK_EQ(w[A_PORT], static_cast<int32_t>(bound.port));
      }
      back += n;
    }
  }
  CHECK_EQ(back, 40);
  CHECK_EQ(hs.datagrams, 40);
  CHECK(hs.calls <= 40 / 16 + 2);  // batched: a few host calls, not 40
  CHECK_EQ(r.stats[US_DATAGRAMS_OUT], 40.0);
  // Close from inside the host call: the socket goes after it, nothing more arrives.
  hs.close_at = 41;
  queue(rc, "last", bound);
  queue(rc, "after", bound);
  CHECK_EQ(udp_ep_flush(&ec), 0);
  end = mono_ms() + 2000;
  while (hs.datagrams < 41 && mono_ms() < end) CHECK(t.run(5) >= 0);
  CHECK(hs.datagrams >= 41);
  CHECK_EQ(loop_udp_flush(t.l, id), -EBADF);  // closed
  CHECK_EQ(loop_udp_close(t.l, id), -EBADF);
  // The id is reused by the next socket; the old one's late events reach nobody.
  int id2 = loop_udp_open(t.l, loopback(), o, c, r.shm, h, &bound, &failed);
  CHECK_EQ(id2, id);
  for (int i = 0; i < 5; i++) t.run(1);
  udp_ep_free(&ec);
  sock_close(cli);
  // loop_destroy (the fixture) closes the open socket.
}

int main(int argc, char** argv) { return check::run(argc, argv); }
