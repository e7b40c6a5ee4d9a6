// UDP sockets on a loop (loop/loop_udp.h): readiness or a ring poll, then batches
// of recvmmsg -> one host call -> sendmmsg. Kept out of the connection table: a
// UDP socket has no slot, no inbound buffer and no stream state.
#include "loop/loop_impl.h"
#include "loop/loop_udp.h"

#include <new>
#include "sys/clock.h"

namespace rn {

using namespace udp_layout;

struct udp_sock {
  udp_endpoint ep;
  udp_host host;
  uint32_t gen = 0;
  bool open = false;
  bool blocked = false;       // the send buffer filled: not reading until it drains
  bool in_batch = false;      // its host call is running
  bool close_after = false;   // closed from inside that call
  uint8_t upoll = 0;          // io_uring: kPollIn / kPollOut / kPollAgain armed
};

namespace {
// Batches per readiness report before giving the rest of the loop a turn (the
// socket is re-armed, so nothing waits for a new datagram to be seen).
constexpr int kBatchesPerWake = 8;
// io_uring: a multishot POLLIN (one completion per arrival, no re-arm per batch);
// when a turn ends with datagrams left, a one-shot poll (fires at once if still
// readable) stands in for the edge that will not come.
constexpr uint8_t kPollIn = 1, kPollOut = 2, kPollAgain = 4;
}  // namespace

udp_sock* loop::udp_get(int id) {
  if (id < 0 || static_cast<size_t>(id) >= udps.size()) return nullptr;
  udp_sock* s = udps[static_cast<size_t>(id)];
  return s && s->open ? s : nullptr;
}

// What the socket waits for now: readable, or writable while blocked.
void loop::udp_arm(uint32_t id, udp_sock* s) {
  if (ring) {
    if (s->blocked) {
      if (!(s->upoll & kPollOut) && uring_poll_write(ring, s->ep.fd, uring_ud(UK_UDP_OUT, s->gen, id)) == 0) s->upoll |= kPollOut;
    } else if (!(s->upoll & kPollIn) && uring_poll_read(ring, s->ep.fd, uring_ud(UK_UDP, s->gen, id)) == 0) {
      s->upoll |= kPollIn;
    }
    return;
  }
  poller_mod(poll, s->ep.fd, token(kTokUdp, id), (s->blocked ? POLL_WRITE : POLL_READ) | POLL_EDGE);
}

void loop::udp_finish_close(uint32_t id, udp_sock* s) {
  if (ring) {
    if (s->upoll & kPollIn) uring_cancel(ring, uring_ud(UK_UDP, s->gen, id), uring_ud(UK_CANCEL, 0, 0));
    if (s->upoll & kPollOut) uring_cancel(ring, uring_ud(UK_UDP_OUT, s->gen, id), uring_ud(UK_CANCEL, 0, 0));
    if (s->upoll & kPollAgain) uring_cancel(ring, uring_ud(UK_UDP_AGAIN, s->gen, id), uring_ud(UK_CANCEL, 0, 0));
    s->upoll = 0;
  } else {
    poller_del(poll, s->ep.fd);
    for (int j = pev_next; j < pev_count; j++)
      if (pev[j].token == token(kTokUdp, id)) pev[j].mask = 0;
  }
  sock_close(s->ep.fd);
  udp_ep_free(&s->ep);
  s->ep.fd = -1;
  s->open = false;
  s->blocked = false;
  s->close_after = false;
  s->gen = (s->gen + 1) & kGenMask;
}

// Send what the host queued; false when the socket is blocked (or closed).
bool loop::udp_flush(uint32_t id, udp_sock* s) {
  int r = udp_ep_flush(&s->ep);
  if (r == -EAGAIN) {
    if (!s->blocked) {
      s->blocked = true;
      udp_arm(id, s);
    }
    return false;
  }
  return true;
}

// Read batches until the socket is empty, blocked, closed, or the turn is over.
void loop::udp_read(uint32_t id, udp_sock* s) {
  for (int k = 0; k < kBatchesPerWake; k++) {
    int n = udp_ep_read(&s->ep);
    if (n == -EAGAIN) return;
    if (n < 0) break;  // counted (US_RECV_ERRORS); look again on the next turn
    s->in_batch = true;
    s->host.on_batch(s->host.ud, n);
    s->in_batch = false;
    s->ep.shm.rxd[RX_COUNT] = 0;
    // TCP ops the handler recorded (it may answer a datagram on a connection).
    if (shm.ops[OP_COUNT] > 0) apply_ops();
    if (s->close_after) {
      udp_finish_close(id, s);
      return;
    }
    if (!udp_flush(id, s)) return;
    if (static_cast<uint32_t>(n) < s->ep.cfg.batch) return;
  }
  // More may wait, and no new edge will say so: make the kernel look again.
  if (!ring) {
    udp_arm(id, s);
  } else if (!(s->upoll & kPollAgain) && uring_poll_once(ring, s->ep.fd, uring_ud(UK_UDP_AGAIN, s->gen, id)) == 0) {
    s->upoll |= kPollAgain;
  }
}

void loop::udp_ready(uint32_t id, uint32_t mask) {
  udp_sock* s = udp_get(static_cast<int>(id));
  if (!s) return;
  if (s->blocked && (mask & (POLL_WRITE | POLL_ERROR))) {
    if (!udp_flush(id, s)) return;
    s->blocked = false;
    udp_arm(id, s);
  }
  if (!s->blocked && (mask & (POLL_READ | POLL_ERROR | POLL_HANGUP))) udp_read(id, s);
}

void loop::udp_uring_done(uint32_t id, uint32_t g24, uint64_t kind, int32_t res, bool more) {
  if (id >= udps.size() || !udps[id] || !udps[id]->open || udps[id]->gen != g24) return;
  udp_sock* s = udps[id];
  bool out = kind == UK_UDP_OUT;
  uint8_t bit = out ? kPollOut : kind == UK_UDP_AGAIN ? kPollAgain : kPollIn;
  if (!more) s->upoll &= static_cast<uint8_t>(~bit);
  if (res == -ECANCELED) return;
  if (out) {
    if (udp_flush(id, s)) {
      s->blocked = false;
      udp_read(id, s);
    }
  } else if (!s->blocked) {
    udp_read(id, s);
  }
  if (s->open) udp_arm(id, s);
}

void loop::udp_close_all() {
  for (size_t i = 0; i < udps.size(); i++) {
    udp_sock* s = udps[i];
    if (s && s->open) udp_finish_close(static_cast<uint32_t>(i), s);
    delete s;
  }
  udps.clear();
}

int loop_udp_open(loop* l, const addr& a, const udp_opts& o, const udp_config& cfg, const udp_shared& shm,
                  const udp_host& h, addr* bound, const char** failed_call) {
  int fd = udp_open(a, o, failed_call);
  if (fd < 0) return fd;
  size_t id = 0;
  while (id < l->udps.size() && l->udps[id] && l->udps[id]->open) id++;
  if (id == l->udps.size()) l->udps.push_back(nullptr);
  if (!l->udps[id]) l->udps[id] = new (std::nothrow) udp_sock;
  udp_sock* s = l->udps[id];
  int err = s ? udp_ep_init(&s->ep, fd, a.family == 6 ? 6 : 4, cfg, shm) : -ENOMEM;
  if (err == 0 && sock_local(fd, bound) < 0) *bound = a;
  if (err == 0) {
    s->host = h;
    s->blocked = s->in_batch = s->close_after = false;
    s->upoll = 0;
    s->open = true;
    if (l->ring) {
      l->udp_arm(static_cast<uint32_t>(id), s);
      l->submit();
    } else {
      err = poller_add(l->poll, fd, token(kTokUdp, static_cast<uint32_t>(id)), POLL_READ | POLL_EDGE);
    }
    if (err < 0) {
      s->open = false;
      udp_ep_free(&s->ep);
    }
  }
  if (err < 0) {
    *failed_call = err == -ENOMEM ? "malloc" : "epoll_ctl";
    sock_close(fd);
    return err;
  }
  return static_cast<int>(id);
}

int loop_udp_flush(loop* l, int id) {
  udp_sock* s = l->udp_get(id);
  if (!s) return -EBADF;
  if (s->blocked) return udp_ep_pending(&s->ep) > 0 ? -EAGAIN : 0;
  int r = l->udp_flush(static_cast<uint32_t>(id), s) ? 0 : -EAGAIN;
  l->submit();
  return r;
}

int loop_udp_close(loop* l, int id) {
  udp_sock* s = l->udp_get(id);
  if (!s) return -EBADF;
  if (s->in_batch) {
    s->close_after = true;
    return 0;
  }
  l->udp_finish_close(static_cast<uint32_t>(id), s);
  l->submit();
  return 0;
}

int loop_udp_take_error(loop* l, int id) {
  udp_sock* s = l->udp_get(id);
  if (!s) return -EBADF;
  int e = s->ep.last_send_error;
  s->ep.last_send_error = 0;
  return e;
}

int loop_udp_set_opt(loop* l, int id, udp_opt opt, int value) {
  udp_sock* s = l->udp_get(id);
  return s ? udp_set_opt(s->ep.fd, s->ep.family, opt, value) : -EBADF;
}

int loop_udp_get_opt(loop* l, int id, udp_opt opt) {
  udp_sock* s = l->udp_get(id);
  return s ? udp_get_opt(s->ep.fd, s->ep.family, opt) : -EBADF;
}

int loop_udp_mcast_iface(loop* l, int id, const char* iface) {
  udp_sock* s = l->udp_get(id);
  return s ? udp_set_mcast_iface(s->ep.fd, s->ep.family, iface) : -EBADF;
}

int loop_udp_membership(loop* l, int id, bool join, const char* group, const char* iface) {
  udp_sock* s = l->udp_get(id);
  return s ? udp_membership(s->ep.fd, s->ep.family, join, group, iface) : -EBADF;
}

}  // namespace rn
