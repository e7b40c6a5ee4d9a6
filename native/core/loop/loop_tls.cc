// TLS connections: a filter between the socket and the stream (transport/tls.h).
// Reads of a TLS connection go through conn_read (plaintext lands where the
// ciphertext was read: the arena or the connection's buffer, viewed by JS as
// usual); writes through send (encrypted in one pass, ciphertext sent as plain
// bytes are, by send_raw in loop_ops.cc); close_conn sends close_notify after a
// clean close (tls_teardown). On io_uring the session is fed the completed
// buffers (uring_tls_data) and decrypts in place. A plain connection costs one
// branch in conn_read and send.
#include "loop/loop_impl.h"
#include "sys/clock.h"
#include "sys/sock.h"

namespace rn {

// Before a TLS connection's fd closes: close_notify (clean close, nothing queued),
// and the session freed. Returns whether the host saw EV_OPEN.
bool loop::tls_teardown(conn& c, int err) {
  if (!c.tls) return true;
  if (err == 0 && c.tls_open && c.out.empty() && !c.sreq) {
    tls_shutdown(c.tls);
    const uint8_t* p = nullptr;
    size_t n = tls_out(c.tls, &p);
    iovec_t v{const_cast<uint8_t*>(p), n};
    if (n) sock_writev(c.fd, &v, 1);  // a few bytes: the socket takes them or the peer gets a FIN
  }
  tls_sess_free(c.tls);
  c.tls = nullptr;
  bool opened = c.tls_open;
  c.tls_open = false;
  return opened;
}

// The session failed: its code joins the table (at most 256 distinct ones), and
// the connection closes with it.
int loop::tls_code(const tls_error& e) {
  stat_add(ST_TLS_ERRORS, 1);
  for (size_t i = 0; i < tls_errors.size(); i++)
    if (tls_errors[i].code == e.code && tls_errors[i].message == e.message) return TLS_ERR_BASE + static_cast<int>(i);
  if (tls_errors.size() >= 256) {
    for (size_t i = 0; i < tls_errors.size(); i++)
      if (tls_errors[i].code == e.code) return TLS_ERR_BASE + static_cast<int>(i);
    return TLS_ERR_BASE;  // slot 0: whatever came first
  }
  tls_errors.push_back(e);
  return TLS_ERR_BASE + static_cast<int>(tls_errors.size() - 1);
}

// Send what the session has produced (handshake messages, alerts, tickets).
// False if the connection closed.
bool loop::tls_flush(uint32_t slot, conn& c) {
  const uint8_t* p = nullptr;
  size_t n = tls_out(c.tls, &p);
  if (n == 0) return true;
  iovec_t v{const_cast<uint8_t*>(p), n};
  bool ok = send_raw(slot, c, &v, 1, n);
  if (conns.used(slot) && c.tls) tls_out_clear(c.tls);
  if (ok && !c.out.empty()) set_interest(slot, c);  // a short send arms write-readiness
  return ok;
}

// sock_read for every connection: plaintext for a TLS one (handshake driven on
// the way, EV_OPEN once it is done). Same answers: bytes, 0 (the peer is done:
// close_notify or FIN), -errno; -EAGAIN also after the connection was closed here.
// from_socket false (io_uring, whose bytes arrive by completion): only what was fed.
ssize_t loop::conn_read(uint32_t slot, conn& c, uint8_t* buf, size_t len, bool from_socket) {
  if (!c.tls) return sock_read(c.fd, buf, len);
  uint32_t gen = conns.gen(slot);
  bool full = false;  // a socket read filled buf: more may wait (edge-triggered: read again)
  for (int i = 0; i < 64; i++) {
    if (c.tls_open) {
      // One SSL_read gives one record (16 KiB at most): fill buf with as many as there are.
      size_t got = 0;
      int r = TLS_AGAIN;
      while (got < len && (r = tls_read(c.tls, buf + got, len - got)) > 0) got += static_cast<size_t>(r);
      // What reading produced goes out now: a KeyUpdate's answer, the
      // no_renegotiation alert for a ClientHello after the handshake.
      if (r != TLS_FAILED && !tls_flush(slot, c)) return -EAGAIN;
      if (got > 0 || r == TLS_CLOSED) {
        if (got == 0) return 0;  // close_notify
        // Bytes OpenSSL still holds, a close_notify or failure behind these bytes,
        // or a full socket read: this connection reads again after the batch.
        if (full || r != TLS_AGAIN || tls_pending(c.tls) || tls_buffered_in(c.tls))
          tls_backlog.push_back(uint64_t{gen} << 32 | slot);
        return static_cast<ssize_t>(got);
      }
      if (r == TLS_FAILED) return tls_fail(slot, c);
    } else {
      int h = tls_handshake(c.tls);
      if (!tls_flush(slot, c)) return -EAGAIN;
      if (h == TLS_FAILED) return tls_fail(slot, c);
      if (h == TLS_SNI) {  // the host's SNICallback answers (loop_tls_sni_answer); bytes wait in the session
        if (!c.tls_sni) {
          c.tls_sni = true;
          emit(EV_TLS_SNI, slot, gen, 0);
        }
        if (!from_socket) return -EAGAIN;
        ssize_t n = sock_read(c.fd, buf, len);  // keep the socket drained (edge-triggered)
        if (n == 0) return -ECONNRESET;
        if (n < 0) return n;
        if (tls_feed(c.tls, buf, static_cast<size_t>(n)) < 0) return tls_fail(slot, c);
        continue;
      }
      if (h == TLS_DONE) {
        c.tls_open = true;
        stat_add(ST_TLS_HANDSHAKES, 1);
        int32_t tag = 0;
        // A dial (EV_OPEN with its tag) or an accept under a handshake timeout:
        // from the handshake's deadline to the usual ones.
        if (c.flags & (C_TLS_DIAL | C_TLS_HS)) {
          if (c.flags & C_TLS_DIAL) tag = c.dial_tag;
          c.flags &= ~(C_TLS_DIAL | C_TLS_HS);
          wheel.cancel(&c.dl.node);
          if (cfg.idle_timeout_ms) dl_set(wheel, c.dl, DL_IDLE, cfg.idle_timeout_ms, now_ms, false);
        }
        emit(EV_OPEN, slot, gen, tag);
        continue;
      }
    }
    if (!from_socket) return -EAGAIN;
    ssize_t n = sock_read(c.fd, buf, len);
    if (n == 0 && !c.tls_open) return -ECONNRESET;  // gone mid-handshake (Node says ECONNRESET too)
    if (n <= 0) return n;
    full = static_cast<size_t>(n) == len;
    if (tls_feed(c.tls, buf, static_cast<size_t>(n)) < 0) return tls_fail(slot, c);
  }
  tls_backlog.push_back(uint64_t{gen} << 32 | slot);  // more handshake bytes than 64 reads: later
  return -EAGAIN;
}

// A dialed TLS connection is connected: send the ClientHello. The dial's deadline
// (or, without one, the idle timeout) bounds the handshake; EV_OPEN (with the
// dial's tag) comes from conn_read once it is done, and a failure is the dial's
// (close_conn emits EV_DIAL_FAIL for a C_TLS_DIAL connection).
void loop::tls_dial_start(uint32_t slot, conn& c) {
  c.flags |= C_TLS_DIAL;
  c.dl.node.owner = slot;
  if (!c.dl.node.armed() && cfg.idle_timeout_ms) dl_set(wheel, c.dl, DL_IDLE, cfg.idle_timeout_ms, now_ms, false);
  int h = tls_handshake(c.tls);
  if (!tls_flush(slot, c)) return;
  if (h == TLS_FAILED) tls_fail(slot, c);
}

ssize_t loop::tls_fail(uint32_t slot, conn& c) {
  tls_flush(slot, c);  // the alert, if the session made one
  if (conns.used(slot) && c.tls) close_conn(slot, -tls_code(tls_sess_error(c.tls)));
  return -EAGAIN;
}

// Connections with decrypted bytes still inside OpenSSL read again (bounded).
void loop::tls_drain_backlog() {
  for (int round = 0; round < 16 && !tls_backlog.empty(); round++) {
    std::vector<uint64_t> todo;
    todo.swap(tls_backlog);
    for (uint64_t k : todo) {
      uint32_t slot = static_cast<uint32_t>(k), gen = static_cast<uint32_t>(k >> 32);
      if (!conns.live(slot, gen)) continue;
      conn& c = conns[slot];
      if (c.flags & (C_PAUSED | C_CLOSING | C_PEER_EOF)) continue;  // resumed later: see set_interest
      if (ring) uring_tls_more(slot, c);
      else on_readable(slot, c, false);
    }
    deliver();
  }
  // Still more (a fast sender): wake the loop so it comes back here soon rather
  // than waiting for a socket event that an edge-triggered poller will not send.
  if (!tls_backlog.empty()) {
    task t;
    t.kind = TASK_STOP;
    tasks.push(std::move(t));
  }
}

// Send iov (plaintext: encrypted first on a TLS connection). Returns false if the
// connection was closed.
bool loop::send(uint32_t slot, conn& c, iovec_t* iov, int n, size_t total) {
  if (n == 0 || !c.tls) return send_raw(slot, c, iov, n, total);
  if (tls_write(c.tls, iov, n) < 0) {
    tls_fail(slot, c);
    return false;
  }
  return tls_flush(slot, c);
}

// io_uring, TLS: the ciphertext is taken by the session (its buffer is given back
// at once unless plaintext is decrypted into it, in place, for JS to view).
void loop::uring_tls_data(uint32_t slot, conn& c, const uring_event& ev, bool finished) {
  uint32_t gen = conns.gen(slot);
  bool held = false;
  if (tls_feed(c.tls, ev.data, static_cast<size_t>(ev.res)) < 0) {
    if (finished) uring_buf_return(ring, ev.buf);
    tls_fail(slot, c);
    return;
  }
  if (c.in.id < 0 && !(c.flags & C_IN_BATCH) && finished) {
    ssize_t r = conn_read_buffered(slot, c, ev.data, static_cast<size_t>(ev.res));
    if (r > 0) {
      uint32_t off = static_cast<uint32_t>(ev.data - arena.data);
      set_inbound(slot, c, arena.id, off, off + static_cast<uint32_t>(r), true);
      held_bufs.push_back(ev.buf);
      held = true;
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
      emit(EV_DATA, slot, gen, static_cast<int32_t>(r));
    } else {
      uring_buf_return(ring, ev.buf);
      held = true;
      if (!uring_tls_result(slot, c, r, gen)) return;
    }
  }
  if (!held && finished) uring_buf_return(ring, ev.buf);
  if (conns.live(slot, gen)) uring_tls_more(slot, c);
}

// The rest of what the session can decrypt, appended to the connection's buffer.
void loop::uring_tls_more(uint32_t slot, conn& c) {
  uint32_t gen = conns.gen(slot);
  if (tls_scratch.size() < cfg.read_size) tls_scratch.resize(cfg.read_size);
  for (int i = 0; i < 1024 && conns.live(slot, gen); i++) {
    ssize_t r = conn_read_buffered(slot, c, tls_scratch.data(), tls_scratch.size());
    if (r <= 0) {
      uring_tls_result(slot, c, r, gen);
      return;
    }
    if (!uring_append(slot, c, tls_scratch.data(), static_cast<uint32_t>(r))) {
      close_conn(slot, -ENOMEM);
      return;
    }
    if (!(c.flags & C_IN_BATCH)) {
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
      emit(EV_DATA, slot, gen, static_cast<int32_t>(r));
    }
    if (c.in_end - start_of(slot, c) >= in_limit(c) && !(c.flags & C_PAUSED)) {
      c.flags |= C_PAUSED;
      stat_add(ST_PAUSES, 1);
      uring_interest(slot, c);
      publish(slot, c);
      if (tls_pending(c.tls) || tls_buffered_in(c.tls)) tls_backlog.push_back(uint64_t{gen} << 32 | slot);
      return;
    }
  }
}

// A non-positive conn_read answer on io_uring: 0 is the peer's close_notify.
bool loop::uring_tls_result(uint32_t slot, conn& c, ssize_t r, uint32_t gen) {
  if (!conns.live(slot, gen)) return false;
  if (r == 0) {
    if (c.flags & C_PEER_EOF) return false;  // ended already: one EV_END per connection
    c.flags |= C_PEER_EOF;
    publish(slot, c);
    emit(EV_END, slot, gen, 0);
    if (!(c.flags & C_IN_BATCH)) {
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
    }
    return false;
  }
  if (r < 0 && r != -EAGAIN) {
    close_conn(slot, static_cast<int>(r));
    return false;
  }
  return true;
}

int loop_set_tls(loop* l, int listener_id, tls_ctx* tls) {
  tls_ctx** at;
  if (listener_id < 0) {
    size_t i = static_cast<size_t>(-1 - static_cast<int64_t>(listener_id));
    if (i >= 64) return -EINVAL;
    if (l->adopt_tls.size() <= i) l->adopt_tls.resize(i + 1, nullptr);
    at = &l->adopt_tls[i];
  } else {
    if (static_cast<size_t>(listener_id) >= l->listeners.size()) return -EINVAL;
    at = &l->listeners[static_cast<size_t>(listener_id)].tls;
    if (!*at || !tls) return -EINVAL;  // a plain listener stays plain, a TLS one TLS
  }
  if (tls) tls_ctx_ref(tls);
  tls_ctx_unref(*at);
  *at = tls;
  return 0;
}

int loop_conn_tls_info(loop* l, uint32_t slot, uint32_t gen, tls_info* out) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  const conn& c = l->conns[slot];
  if (!c.tls) return -ENOTSUP;
  return tls_sess_info(c.tls, out);
}

const std::string* loop_tls_sni_name(loop* l, uint32_t slot, uint32_t gen) {
  if (!l->conns.live(slot, gen) || !l->conns[slot].tls) return nullptr;
  return &tls_sess_sni_name(l->conns[slot].tls);
}

int loop_tls_sni_answer(loop* l, uint32_t slot, uint32_t gen, tls_ctx* sub, const tls_error* err) {
  l->now_ms = mono_ms();
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  conn& c = l->conns[slot];
  if (!c.tls || !c.tls_sni || c.tls_open) return -EINVAL;
  if (err) {
    l->close_conn(slot, -l->tls_code(*err));
    l->submit();  // io_uring: the close's cancels go in now, not at the next turn
    return 0;
  }
  tls_sess_sni_answer(c.tls, sub);
  // The handshake goes on from what the session holds, on the loop's next turn.
  l->tls_backlog.push_back(uint64_t{gen} << 32 | slot);
  task t;
  t.kind = TASK_STOP;
  l->tasks.push(std::move(t));
  return 0;
}

int loop_conn_tls_session(loop* l, uint32_t slot, uint32_t gen, std::string* out) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  const conn& c = l->conns[slot];
  if (!c.tls || tls_sess_server(c.tls)) return -ENOTSUP;
  return tls_sess_session(c.tls, out) ? 0 : -EAGAIN;
}

const tls_error* loop_tls_error(const loop* l, int arg) {
  if (arg < TLS_ERR_BASE) return nullptr;
  size_t i = static_cast<size_t>(arg - TLS_ERR_BASE);
  return i < l->tls_errors.size() ? &l->tls_errors[i] : nullptr;
}

}  // namespace rn
