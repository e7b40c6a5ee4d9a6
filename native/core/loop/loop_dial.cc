// Dialed connections (transport/dialer.h) and the deadline wheel (loop/deadlines.h):
// a connection that starts on this side joins the table as C_CONNECTING, invisible
// to the host until the connect finishes (EV_OPEN, arg = its tag) or fails
// (EV_DIAL_FAIL); the wheel ticks once per iteration, before the batch is delivered.
#include "loop/loop_impl.h"
#include "sys/clock.h"
#include "transport/dialer.h"

namespace rn {

int loop::dial(const addr& a, uint32_t timeout_ms, int32_t tag, tls_sess* tls, int codec) {
  if (codec < 0 || static_cast<size_t>(codec) > codecs.table.size()) {
    tls_sess_free(tls);
    return -EINVAL;
  }
  int fd = dialer_start(a, cfg.conn);
  if (fd < 0) {
    tls_sess_free(tls);
    return fd;
  }
  int64_t s = conns.acquire();
  if (s < 0) {
    tls_sess_free(tls);
    sock_close(fd);
    return -ENOSPC;
  }
  uint32_t slot = static_cast<uint32_t>(s), gen = conns.gen(slot);
  int err = ring ? uring_poll_write(ring, fd, uring_ud(UK_CONNECT, gen, slot))
                 : poller_add(poll, fd, token(kTokConn, slot), POLL_WRITE | POLL_EDGE);
  if (err < 0) {
    tls_sess_free(tls);
    conns.release(slot);
    row(slot)[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
    sock_close(fd);
    return err;
  }
  conn& c = conns[slot];
  c.fd = fd;
  c.tls = tls;
  c.flags = C_CONNECTING;
  c.mask = POLL_WRITE | POLL_EDGE;
  c.uflags = ring ? U_CONNPOLL : 0;
  c.sreq = nullptr;
  c.dial_tag = tag;
  c.codec = static_cast<uint16_t>(codec);
  c.dl.node.owner = slot;
  if (timeout_ms) wheel.add(&c.dl.node, now_ms + timeout_ms);
  int32_t* r = row(slot);
  r[CT_GEN] = static_cast<int32_t>(gen);
  r[CT_BUF] = -1;
  r[CT_START] = r[CT_END] = r[CT_OUT] = 0;
  r[CT_FLAGS] = 0;  // not open for the host (nor for loop_post) until connected
  r[CT_FD] = fd;
  return 0;
}

void loop::on_dial_event(uint32_t slot, conn& c, bool error_reported) {
  int err = dialer_result(c.fd, error_reported);
  if (err < 0) {
    fail_dial(slot, err);
    return;
  }
  c.flags &= ~C_CONNECTING;
  c.uflags &= static_cast<uint8_t>(~U_CONNPOLL);
  if (!c.tls) wheel.cancel(&c.dl.node);  // TLS: the dial's deadline bounds the handshake too
  if (ring) {
    uring_interest(slot, c);
  } else {
    c.mask = POLL_READ | POLL_EDGE;
    poller_mod(poll, c.fd, token(kTokConn, slot), c.mask);
  }
  row(slot)[CT_FLAGS] = CF_OPEN;
  stat_add(ST_CONNS, 1);
  if (c.tls) {
    tls_dial_start(slot, c);  // loop_tls.cc: EV_OPEN after the handshake
    return;
  }
  if (cfg.idle_timeout_ms) dl_set(wheel, c.dl, DL_IDLE, cfg.idle_timeout_ms, now_ms, false);
  emit(EV_OPEN, slot, conns.gen(slot), c.dial_tag);
}

void loop::fail_dial(uint32_t slot, int err) {
  conn& c = conns[slot];
  uint32_t gen = conns.gen(slot);
  int32_t tag = c.dial_tag;
  if (ring) {
    if (c.uflags & U_CONNPOLL) uring_cancel(ring, uring_ud(UK_CONNECT, gen, slot), uring_ud(UK_CANCEL, 0, 0));
  } else {
    poller_del(poll, c.fd);
    for (int j = pev_next; j < pev_count; j++)
      if (pev[j].token == token(kTokConn, slot)) pev[j].mask = 0;
  }
  sock_close(c.fd);
  tls_sess_free(c.tls);
  c.tls = nullptr;
  wheel.cancel(&c.dl.node);
  c.flags = 0;
  c.uflags = 0;
  conns.release(slot);
  int32_t* r = row(slot);
  r[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
  r[CT_FD] = -1;
  emit(EV_DIAL_FAIL, static_cast<uint32_t>(tag), 0, err < 0 ? -err : err);
}

// One wheel tick per iteration, before the batch goes to the host: what expires
// is delivered with it (EV_TIMEOUT), or closed with ETIMEDOUT when the host has
// no timeout handler.
void loop::tick() {
  if (wheel.size() == 0) return;
  wheel.advance(now_ms, &loop::on_timer, this);
}

void loop::on_timer(void* ud, timer_node* n) {
  loop* l = static_cast<loop*>(ud);
  uint32_t slot = n->owner;
  if (!l->conns.used(slot)) return;
  conn& c = l->conns[slot];
  if (c.flags & C_CONNECTING) {
    l->fail_dial(slot, -ETIMEDOUT);
    return;
  }
  // A handshake's deadline passed: a dial's (EV_DIAL_FAIL) or an accepted
  // connection's handshake timeout (EV_TLS_ERROR).
  if (c.flags & (C_TLS_DIAL | C_TLS_HS)) {
    l->close_conn(slot, -ETIMEDOUT);
    return;
  }
  int k = dl_expired(l->wheel, c.dl, l->now_ms, !c.out.empty());
  if (k < 0) return;
  // A TLS connection still in its handshake is unknown to the host (no EV_OPEN
  // yet): it cannot handle the timeout, so the deadline bounds the handshake.
  if (l->cfg.timeout_events && (!c.tls || c.tls_open)) {
    l->emit(EV_TIMEOUT, slot, l->conns.gen(slot), k);
  } else {
    l->close_conn(slot, -ETIMEDOUT);
  }
}

// Called after every iteration (the binding's timer): no clock read when nothing
// is armed, the common case without deadlines.
int64_t loop_next_timeout(loop* l) { return l->wheel.size() ? l->wheel.next_timeout(mono_ms()) : -1; }

int loop_dial(loop* l, const addr& a, uint32_t timeout_ms, int32_t tag, tls_sess* tls, int codec) {
  l->now_ms = mono_ms();
  int r = l->dial(a, timeout_ms, tag, tls, codec);
  l->submit();
  return r;
}

}  // namespace rn
