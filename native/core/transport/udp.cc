// The UDP transport's per-socket half: receive a batch into the shared slots,
// send what the host queued (transport/udp.h).
#include "transport/udp.h"

#include <cerrno>
#include <cstring>
#include <new>

namespace rn {

using namespace udp_layout;

namespace {
constexpr int kSendBatch = 64;  // datagrams per sendmmsg
}

udp_sizes udp_shared_sizes(const udp_config& c) {
  udp_sizes s;
  s.rx = static_cast<size_t>(c.batch) * c.max_dgram;
  s.rxd = (RX_HEADER + static_cast<size_t>(c.batch) * RX_STRIDE) * 4;
  s.txd = (TX_HEADER + static_cast<size_t>(c.tx_entries) * TX_STRIDE) * 4;
  s.tx = c.tx_bytes;
  s.stats = US_COUNT * sizeof(double);
  return s;
}

int udp_ep_init(udp_endpoint* e, sock_t fd, int family, const udp_config& cfg, const udp_shared& shm) {
  e->fd = fd;
  e->family = family;
  e->cfg = cfg;
  if (e->cfg.max_dgram < 1) e->cfg.max_dgram = 1;
  if (e->cfg.max_dgram > 65535) e->cfg.max_dgram = 65535;
  if (e->cfg.batch < 1) e->cfg.batch = 1;
  if (e->cfg.batch > 1024) e->cfg.batch = 1024;
  e->shm = shm;
  e->io_n = static_cast<int>(e->cfg.batch) > kSendBatch ? static_cast<int>(e->cfg.batch) : kSendBatch;
  e->io = udp_io_new(e->io_n);
  if (!e->io) return -ENOMEM;
  e->msgs = new (std::nothrow) udp_msg[static_cast<size_t>(e->io_n)];
  if (!e->msgs) {
    udp_io_free(e->io);
    e->io = nullptr;
    return -ENOMEM;
  }
  e->shm.rxd[RX_COUNT] = 0;
  e->shm.txd[TX_COUNT] = 0;
  e->shm.txd[TX_STAGED] = 0;
  return 0;
}

void udp_ep_free(udp_endpoint* e) {
  udp_io_free(e->io);
  e->io = nullptr;
  delete[] e->msgs;
  e->msgs = nullptr;
}

int udp_ep_read(udp_endpoint* e) {
  const uint32_t n = e->cfg.batch;
  for (uint32_t i = 0; i < n; i++) {
    e->msgs[i].data = e->shm.rx + static_cast<size_t>(i) * e->cfg.max_dgram;
    e->msgs[i].cap = e->cfg.max_dgram;
  }
  int r = udp_recv(e->fd, e->io, e->msgs, static_cast<int>(n));
  double* st = e->shm.stats;
  if (r < 0) {
    if (r != -EAGAIN) st[US_RECV_ERRORS] += 1;
    return r;
  }
  st[US_RECV_CALLS] += 1;
  int32_t* d = e->shm.rxd;
  for (int i = 0; i < r; i++) {
    const udp_msg& m = e->msgs[static_cast<size_t>(i)];
    int32_t* w = d + RX_HEADER + static_cast<size_t>(i) * RX_STRIDE;
    w[RD_OFF] = static_cast<int32_t>(static_cast<uint32_t>(i) * e->cfg.max_dgram);
    w[RD_LEN] = static_cast<int32_t>(m.len > m.cap ? m.cap : m.len);
    w[RD_FLAGS] = m.truncated ? RXF_TRUNCATED : 0;
    w[A_FAMILY] = m.peer.family;
    w[A_PORT] = m.peer.port;
    w[A_SCOPE] = static_cast<int32_t>(m.peer.scope);
    memcpy(w + A_IP, m.peer.ip, 16);
    st[US_DATAGRAMS_IN] += 1;
    st[US_BYTES_IN] += w[RD_LEN];
    if (m.truncated) st[US_TRUNCATED] += 1;
  }
  d[RX_COUNT] = r;
  return r;
}

// A send record as a message, or false when it names memory outside the regions
// (garbage from the host) or an address that is not IPv4 / IPv6.
static bool to_msg(const udp_endpoint* e, const int32_t* w, udp_msg* m) {
  int64_t off = w[TD_OFF], len = w[TD_LEN];
  if (off < 0 || len < 0 || len > 65535) return false;
  if (w[TD_SRC] == TX_SRC_STAGING) {
    if (off + len > static_cast<int64_t>(e->cfg.tx_bytes)) return false;
    m->data = e->shm.tx + off;
  } else if (w[TD_SRC] == TX_SRC_RX) {
    if (off + len > static_cast<int64_t>(e->cfg.batch) * e->cfg.max_dgram) return false;
    m->data = e->shm.rx + off;
  } else {
    return false;
  }
  int32_t fam = w[A_FAMILY];
  if (fam != 4 && fam != 6) return false;
  if (fam != e->family && !(e->family == 6 && fam == 4)) return false;
  m->len = static_cast<uint32_t>(len);
  m->peer.family = static_cast<uint8_t>(fam);
  m->peer.port = static_cast<uint16_t>(w[A_PORT]);
  m->peer.scope = static_cast<uint32_t>(w[A_SCOPE]);
  memcpy(m->peer.ip, w + A_IP, 16);
  if (fam == 4 && e->family == 6) {  // an IPv4 peer of a dual-stack socket: ::ffff:a.b.c.d
    uint8_t v4[4];
    memcpy(v4, m->peer.ip, 4);
    memset(m->peer.ip, 0, 10);
    m->peer.ip[10] = m->peer.ip[11] = 0xff;
    memcpy(m->peer.ip + 12, v4, 4);
    m->peer.family = 6;
  }
  return true;
}

int udp_ep_flush(udp_endpoint* e) {
  int32_t* d = e->shm.txd;
  double* st = e->shm.stats;
  int32_t count = d[TX_COUNT];
  if (count <= 0) {
    d[TX_COUNT] = 0;
    d[TX_STAGED] = 0;
    return 0;
  }
  if (static_cast<uint32_t>(count) > e->cfg.tx_entries) count = static_cast<int32_t>(e->cfg.tx_entries);
  int32_t i = 0;
  while (i < count) {
    // Gather up to io_n valid records; invalid ones are dropped and counted.
    int n = 0;
    int32_t idx[1024];
    while (i < count && n < e->io_n) {
      const int32_t* w = d + TX_HEADER + static_cast<size_t>(i) * TX_STRIDE;
      if (to_msg(e, w, &e->msgs[static_cast<size_t>(n)])) {
        idx[n++] = i;
      } else {
        st[US_SEND_ERRORS] += 1;
        e->last_send_error = -EINVAL;
      }
      i++;
    }
    if (n == 0) continue;
    int done = 0;
    while (done < n) {
      int r = udp_send(e->fd, e->io, e->msgs + done, n - done);
      st[US_SEND_CALLS] += 1;
      if (r == -EAGAIN) {
        // Keep the rest, from the first unsent record on, at the front of txd.
        int32_t from = idx[done];
        int32_t left = count - from;
        memmove(d + TX_HEADER, d + TX_HEADER + static_cast<size_t>(from) * TX_STRIDE,
                static_cast<size_t>(left) * TX_STRIDE * 4);
        d[TX_COUNT] = left;
        st[US_SEND_BLOCKED] += 1;
        return -EAGAIN;
      }
      if (r < 0) {  // this datagram was refused (EMSGSIZE, EACCES, ENETUNREACH …): drop it
        st[US_SEND_ERRORS] += 1;
        e->last_send_error = r;
        done++;
        continue;
      }
      for (int k = 0; k < r; k++) st[US_BYTES_OUT] += e->msgs[static_cast<size_t>(done + k)].len;
      st[US_DATAGRAMS_OUT] += r;
      done += r;
    }
  }
  d[TX_COUNT] = 0;
  d[TX_STAGED] = 0;
  return 0;
}

}  // namespace rn
