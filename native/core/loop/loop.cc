// The loop's hot path, top to bottom: poll (loop_run_once) -> the callback of each
// ready fd (a connection: on_conn_event, on_readable / on_writable; a listener:
// accept_burst; the wake fd: run_tasks) -> deliver the batch to the host (deliver)
// -> apply the ops it recorded (apply_ops, in loop_ops.cc) -> settle what the batch
// touched (settle_touched). Then the connection state changes all of them make:
// interest, close, drain. io_uring runs the same deliver/settle from its
// completions (loop_uring.cc). struct loop itself is in loop_impl.h.
#include "loop/loop_impl.h"

#include "sys/clock.h"
#include "transport/listener.h"

namespace rn {

// ---- poll -------------------------------------------------------------------

int loop_run_once(loop* l, int timeout_ms) {
  // Ops JS recorded outside a batch and has not flushed yet go before any read:
  // a read may move the inbound bytes their references point into (issue 8).
  if (l->shm.ops[OP_COUNT] > 0) {
    l->now_ms = mono_ms();
    l->apply_ops();
  }
  // The wheel's next deadline shortens a blocking wait; a poll (timeout 0: libuv
  // said the fd is ready) does not need it.
  if (timeout_ms != 0) {
    int64_t t = loop_next_timeout(l);
    if (t >= 0 && (timeout_ms < 0 || t < timeout_ms)) timeout_ms = static_cast<int>(t);
  }
  if (l->ring) return l->uring_run_once(timeout_ms);
  int n = poller_wait(l->poll, l->pev, 1024, timeout_ms);
  if (n < 0) return n;
  l->now_ms = mono_ms();
  l->stat_add(ST_POLLS, 1);
  l->pev_count = n;
  for (int i = 0; i < n; i++) {
    l->pev_next = i + 1;
    uint64_t tok = l->pev[i].token;
    uint32_t kind = static_cast<uint32_t>(tok >> 32), id = static_cast<uint32_t>(tok);
    if (kind == kTokConn) {
      l->on_conn_event(id, l->pev[i].mask);
    } else if (kind == kTokListener) {
      if (id < l->listeners.size() && l->listeners[id].fd >= 0) l->accept_burst(l->listeners[id]);
    } else if (kind == kTokWake) {
      l->run_tasks();
    } else if (kind == kTokUdp) {
      l->udp_ready(id, l->pev[i].mask);
    }
  }
  l->pev_count = 0;
  l->tick();
  l->deliver();
  l->tls_drain_backlog();
  poller_commit(l->poll);  // one-shot backends (AFD) re-arm what was reported
  return n;
}

// ---- per-fd callbacks: connections ------------------------------------------

void loop::on_conn_event(uint32_t slot, uint32_t mask) {
  if (!conns.used(slot)) return;  // closed earlier in this same poll
  conn& c = conns[slot];
  if (c.flags & C_CONNECTING) {
    on_dial_event(slot, c, (mask & (POLL_ERROR | POLL_HANGUP)) != 0);
    return;
  }
  if (mask & POLL_ERROR) {
    int err = sock_error(c.fd);
    close_conn(slot, err < 0 ? err : -ECONNRESET);
    return;
  }
  if (mask & POLL_WRITE) {
    on_writable(slot, c);
    if (!conns.used(slot)) return;
  }
  if (mask & (POLL_READ | POLL_HANGUP)) {
    if (c.mask & POLL_READ) {
      on_readable(slot, c, (mask & POLL_HANGUP) != 0);
    } else if ((mask & POLL_HANGUP) && !(mask & POLL_READ)) {
      // Hung up while we were not reading (paused or draining): nothing more can
      // arrive or be sent.
      close_conn(slot, c.out.empty() ? 0 : -EPIPE);
    }
  }
}

// peer_done: the event said the peer has shut down its side. Edge-triggered, a
// short read then does not prove the EOF has been seen: re-arm so the next
// read returns it.
void loop::on_readable(uint32_t slot, conn& c, bool peer_done) {
  if (c.flags & (C_CLOSING | C_PEER_EOF)) return;
  if (c.in.id < 0 && arena.id >= 0) {
    read_into_arena(slot, c, peer_done);
    return;
  }
  int64_t room = make_room(slot, c);
  if (room < 0) {
    close_conn(slot, static_cast<int>(room));
    return;
  }
  if (room == 0) {
    c.flags |= C_PAUSED;
    stat_add(ST_PAUSES, 1);
    set_interest(slot, c);
    publish(slot, c);
    return;
  }
  ssize_t n = conn_read(slot, c, c.in.data + c.in_end, static_cast<size_t>(room));
  stat_add(ST_READS, 1);
  if (n > 0) {
    c.in_end += static_cast<uint32_t>(n);
    row(slot)[CT_END] = static_cast<int32_t>(c.in_end);
    stat_add(ST_BYTES_IN, static_cast<double>(n));
    if (n == room || peer_done) rearm(slot, c);
    if (!(c.flags & C_IN_BATCH)) {
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
      emit(EV_DATA, slot, conns.gen(slot), static_cast<int32_t>(n));
    }
    return;
  }
  after_read_error(slot, c, n);
}

// Make room for a read: reuse, compact or grow the inbound buffer. Returns the
// free bytes at the end, 0 when the connection is at its inbound cap.
int64_t loop::make_room(uint32_t slot, conn& c) {
  if (c.in.id < 0) {
    if (pool.get(cfg.read_size, &c.in) < 0) return -ENOMEM;
    set_inbound(slot, c, c.in.id, 0, 0, false);
  }
  uint32_t start = start_of(slot, c), end = c.in_end;
  if (start >= end) start = end = 0;
  uint32_t want = cfg.read_size < c.in.cap ? cfg.read_size : c.in.cap;
  if (c.in.cap - end < want / 2 && start > 0 && !(c.flags & C_IN_BATCH)) {
    memmove(c.in.data, c.in.data + start, end - start);
    end -= start;
    start = 0;
  }
  const uint32_t limit = in_limit(c);
  if (c.in.cap - end < want / 2 && !(c.flags & C_IN_BATCH) && c.in.cap < limit) {
    inbuf bigger;
    uint64_t need = static_cast<uint64_t>(end - start) + cfg.read_size;
    if (need > limit) need = limit;
    if (pool.get(static_cast<uint32_t>(need), &bigger) == 0) {
      memcpy(bigger.data, c.in.data + start, end - start);
      end -= start;
      start = 0;
      pool.put(&c.in);
      c.in = bigger;
    }
  }
  set_inbound(slot, c, c.in.id, start, end, false);
  uint32_t room = c.in.cap - end;
  if (end - start >= limit) room = 0;
  return room;
}

void loop::read_into_arena(uint32_t slot, conn& c, bool peer_done) {
  // Each read starts on a cache line (kBufAlign in mem/bufpool.h says why).
  uint32_t pad = cache_line_pad(arena.data + arena_used);
  if (arena.cap - arena_used < cfg.read_size + pad) {
    deliver();  // arena full: let the handler consume, then start it over
    if (!conns.used(slot)) return;
    pad = cache_line_pad(arena.data + arena_used);
  }
  // Offer up to twice read_size when the arena has it: a message of exactly
  // read_size (50 x 64 KiB) then reads short, proving the socket empty, instead
  // of filling the room and paying an EPOLL_CTL_MOD re-arm per message.
  const uint32_t from = arena_used + pad;  // taken only if the read brings bytes
  uint32_t room = arena.cap - from;
  if (room > 2 * cfg.read_size) room = 2 * cfg.read_size;
  ssize_t n = conn_read(slot, c, arena.data + from, room);
  stat_add(ST_READS, 1);
  if (n > 0) {
    set_inbound(slot, c, arena.id, from, from + static_cast<uint32_t>(n), true);
    arena_used = from + static_cast<uint32_t>(n);
    stat_add(ST_BYTES_IN, static_cast<double>(n));
    c.flags |= C_IN_BATCH;
    touched.push_back(slot);
    if (static_cast<uint32_t>(n) == room || peer_done) rearm(slot, c);
    emit(EV_DATA, slot, conns.gen(slot), static_cast<int32_t>(n));
    return;
  }
  after_read_error(slot, c, n);
}

void loop::after_read_error(uint32_t slot, conn& c, ssize_t n) {
  if (n == -EAGAIN) return;
  if (n == 0) {
    // Peer finished sending. Tell the host (EV_END) and decide after its batch, in
    // settle_touched(): without half_open, what it writes there and what is queued
    // is sent, then the connection closes (issue 8, item 4: closing here, at
    // once, lost every reply not already queued).
    c.flags |= C_PEER_EOF;
    set_interest(slot, c);
    publish(slot, c);
    emit(EV_END, slot, conns.gen(slot), 0);
    if (!(c.flags & C_IN_BATCH)) {
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
    }
    return;
  }
  close_conn(slot, static_cast<int>(n));
}

void loop::on_writable(uint32_t slot, conn& c) {
  iovec_t iov[kIovMax];
  while (!c.out.empty()) {
    int n = c.out.peek(iov, kIovMax);
    ssize_t w = sock_writev(c.fd, iov, n);
    stat_add(ST_WRITES, 1);
    if (w == -EAGAIN) break;
    if (w < 0) {
      close_conn(slot, static_cast<int>(w));
      return;
    }
    stat_add(ST_BYTES_OUT, static_cast<double>(w));
    dl_on_outbound(c.dl, now_ms);
    c.out.consume(chunks, static_cast<size_t>(w));
  }
  if (c.out.empty() || c.out.size() <= cfg.write_high / 2) {
    if (c.out.empty()) {
      on_drained(slot, c);
      if (!conns.used(slot)) return;
    } else if (c.flags & C_ABOVE_HIGH) {
      c.flags &= ~C_ABOVE_HIGH;
      emit(EV_WRITABLE, slot, conns.gen(slot), 0);
    }
  }
  set_interest(slot, c);
  publish(slot, c);
}

// ---- per-fd callbacks: listeners, the wake fd -------------------------------

void loop::accept_burst(listener& li) {
  struct ctx_t {
    loop* l;
    tls_ctx* tls;
  } ctx{this, li.tls};
  accept_sink sink;
  sink.ud = &ctx;
  sink.on_fd = [](void* ud, sock_t fd) {
    ctx_t* x = static_cast<ctx_t*>(ud);
    x->l->adopt(fd, x->tls);
  };
  listener_accept_burst(li.fd, kAcceptBurst, &spare_fd, &sink);
  if (sink.errors) stat_add(ST_ACCEPT_ERRORS, sink.errors);
}

int loop::adopt(int fd, tls_ctx* tls) {
  tls_sess* sess = nullptr;
  if (tls && !(sess = tls_sess_new(tls, nullptr))) {
    sock_close(fd);
    stat_add(ST_REJECTED, 1);
    return -ENOMEM;
  }
  int64_t s = conns.acquire();
  if (s < 0) {
    tls_sess_free(sess);
    sock_close(fd);
    stat_add(ST_REJECTED, 1);
    return -ENOSPC;
  }
  uint32_t slot = static_cast<uint32_t>(s);
  sock_apply(fd, cfg.conn);
  int err = ring ? uring_recv(ring, fd, uring_ud(UK_RECV, conns.gen(slot), slot))
                 : poller_add(poll, fd, token(kTokConn, slot), POLL_READ | POLL_EDGE);
  if (err < 0) {
    tls_sess_free(sess);
    conns.release(slot);
    row(slot)[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
    sock_close(fd);
    return err;
  }
  conn& c = conns[slot];
  c.fd = fd;
  c.tls = sess;
  c.tls_open = false;
  c.mask = POLL_READ | POLL_EDGE;
  c.uflags = ring ? U_RECV : 0;
  c.sreq = nullptr;
  int32_t* r = row(slot);
  r[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
  r[CT_BUF] = -1;
  r[CT_START] = r[CT_END] = r[CT_OUT] = 0;
  r[CT_FLAGS] = CF_OPEN;
  r[CT_FD] = fd;
  c.dl.node.owner = slot;
  c.codec = codecs.accept;
  // TLS: the handshake timeout (or idleTimeout, when shorter) bounds the
  // handshake; the idle deadline starts once it is done (loop_tls.cc).
  uint32_t hs = sess ? tls_sess_handshake_ms(sess) : 0;
  if (hs) {
    c.flags |= C_TLS_HS;
    wheel.add(&c.dl.node, now_ms + (cfg.idle_timeout_ms && cfg.idle_timeout_ms < hs ? cfg.idle_timeout_ms : hs));
  } else if (cfg.idle_timeout_ms) {
    dl_set(wheel, c.dl, DL_IDLE, cfg.idle_timeout_ms, now_ms, false);
  }
  stat_add(ST_ACCEPTS, 1);
  stat_add(ST_CONNS, 1);
  if (!sess) emit(EV_OPEN, slot, conns.gen(slot), 0);  // TLS: once the handshake is done
  return 0;
}

void loop::run_tasks() {
  task_buf.clear();
  tasks.drain(&task_buf);
  for (task& t : task_buf) {
    stat_add(ST_TASKS, 1);
    int result = 0;
    switch (t.kind) {
      case TASK_ADOPT: adopt(t.fd, adopt_ctx(t.slot)); continue;  // slot: the listener's index
      case TASK_STOP: continue;  // a wake-up only (also: tls_drain_backlog)
      case TASK_WAKE:
        if (conns.live(t.slot, t.gen)) emit(EV_WAKE, t.slot, t.gen, 0);
        continue;
      case TASK_CLOSE:
        if (conns.live(t.slot, t.gen)) {
          conn& c = conns[t.slot];
          c.flags |= C_CLOSING;
          if (c.out.empty()) {
            close_conn(t.slot, 0);
          } else {
            set_interest(t.slot, c);
            publish(t.slot, c);  // JS sees CF_CLOSING while it drains
          }
        }
        continue;
      case TASK_WRITE:
        if (!conns.live(t.slot, t.gen)) {
          result = -ENOTCONN;
        } else {
          conn& c = conns[t.slot];
          iovec_t v{t.data.data(), t.data.size()};
          if (c.flags & C_CLOSING) {
            result = -EPIPE;  // a close is under way: these bytes will never be sent
          } else if (bool over = over_limit(c, t.data.size()); send(t.slot, c, &v, 1, t.data.size()) && conns.live(t.slot, t.gen)) {
            set_interest(t.slot, c);
            publish(t.slot, c);
          } else {
            result = over ? -ENOBUFS : -EPIPE;
          }
        }
        if (t.tag) emit(EV_TASK_DONE, t.tag, 0, -result);
        continue;
    }
  }
}

// ---- deliver the batch, settle ----------------------------------------------

void loop::deliver() {
  for (int round = 0; round < 1000; round++) {
    if (shm.events[EV_COUNT] == 0) {
      if (overflow.empty()) break;
      move_overflow();
    }
    stat_add(ST_BATCHES, 1);
    stat_add(ST_EVENTS, shm.events[EV_COUNT]);
    if (codecs.active()) decode_frames();  // frame lists for the codec connections' EV_DATA
    host.on_batch(host.ud);
    shm.events[EV_COUNT] = 0;
    apply_ops();
    settle_touched();
  }
}

// After JS has seen a batch: buffers it emptied go back to the pool, and paused
// connections it drained read again.
void loop::settle_touched() {
  for (uint32_t slot : touched) {
    if (!conns.used(slot)) continue;
    conn& c = conns[slot];
    c.flags &= ~C_IN_BATCH;
    if (c.in_arena) {
      settle_arena(slot, c);
      if (!conns.used(slot)) continue;
    } else if (start_of(slot, c) >= c.in_end && c.in.id >= 0) {
      pool.put(&c.in);
      set_inbound(slot, c, -1, 0, 0, false);
    }
    if (c.codec && codec_settle(slot, c)) continue;  // closed for a bad frame, or more frames to deliver
    if ((c.flags & C_PAUSED) && c.in_end - start_of(slot, c) < in_limit(c)) {
      c.flags &= ~C_PAUSED;
      set_interest(slot, c);
      publish(slot, c);
    }
    // The peer's FIN was in this batch (after_read_error): close once what is
    // queued is sent, unless half-open keeps the write side (until both FINs).
    if ((c.flags & C_PEER_EOF) && !(c.flags & C_CLOSING) && (!cfg.half_open || (c.flags & C_WR_DONE))) {
      c.flags |= C_CLOSING;
      if (c.out.empty()) {
        close_conn(slot, 0);
        continue;
      }
      set_interest(slot, c);
      publish(slot, c);
    }
  }
  touched.clear();
  arena_used = 0;
  if (ring) {
    for (uint16_t b : held_bufs) uring_buf_return(ring, b);
    held_bufs.clear();
  }
  if (!codecs.refeed.empty()) codec_refeed();
}

// Move a connection's unconsumed bytes out of the arena before it is reused.
void loop::settle_arena(uint32_t slot, conn& c) {
  uint32_t start = start_of(slot, c), end = c.in_end;
  set_inbound(slot, c, -1, 0, 0, false);
  if (start >= end) return;
  uint32_t len = end - start;
  if (pool.get(len > cfg.read_size ? len : cfg.read_size, &c.in) < 0) {
    close_conn(slot, -ENOMEM);
    return;
  }
  memcpy(c.in.data, arena.data + start, len);
  set_inbound(slot, c, c.in.id, 0, len, false);
}

// ---- connection state -------------------------------------------------------

// Connections are edge-triggered. Level-triggered, every ready socket would be
// polled twice per iteration: by libuv's epoll_wait on our epoll fd (which walks
// our ready list) and by our own. Edge-triggered, a read that may have left
// bytes behind re-arms with EPOLL_CTL_MOD (rearm()), and a paused connection
// that resumes is re-evaluated by the same MOD, so nothing is lost.
void loop::set_interest(uint32_t slot, conn& c) {
  if (ring) {
    uring_interest(slot, c);
    return;
  }
  uint32_t want = POLL_EDGE;
  if (!(c.flags & (C_PAUSED | C_CLOSING | C_PEER_EOF))) want |= POLL_READ;
  if ((want & POLL_READ) && !(c.mask & POLL_READ) && c.tls && (tls_pending(c.tls) || tls_buffered_in(c.tls)))
    tls_backlog.push_back(uint64_t{conns.gen(slot)} << 32 | slot);  // resumed: OpenSSL holds bytes
  if (!c.out.empty()) want |= POLL_WRITE;
  if (want == c.mask) return;
  c.mask = want;
  poller_mod(poll, c.fd, token(kTokConn, slot), want);
}

void loop::close_conn(uint32_t slot, int err) {
  conn& c = conns[slot];
  if (c.flags & C_CONNECTING) {  // the host never saw it: the dial fails instead
    fail_dial(slot, err < 0 ? err : -ECANCELED);
    return;
  }
  uint32_t gen = conns.gen(slot);
  if (ring) {
    uring_forget(slot, c, gen);
  } else {
    poller_del(poll, c.fd);
    for (int j = pev_next; j < pev_count; j++)
      if (pev[j].token == token(kTokConn, slot)) pev[j].mask = 0;
  }
  bool tls_dial = (c.flags & C_TLS_DIAL) != 0;  // a TLS dial in its handshake: the dial fails
  int32_t tag = c.dial_tag;
  if (tls_dial && err == 0) err = -ECANCELED;
  bool opened = tls_teardown(c, err);
  if (!opened && err == 0) err = -ECONNRESET;  // gone before its handshake finished
  sock_close(c.fd);
  pool.put(&c.in);
  c.out.clear(chunks);
  dl_clear(wheel, c.dl);
  conns.release(slot);
  int32_t* r = row(slot);
  r[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
  r[CT_BUF] = -1;
  r[CT_START] = r[CT_END] = r[CT_OUT] = 0;
  r[CT_FLAGS] = 0;
  r[CT_FD] = -1;
  stat_add(ST_CLOSES, 1);
  stat_add(ST_CONNS, -1);
  if (tls_dial) emit(EV_DIAL_FAIL, static_cast<uint32_t>(tag), 0, err < 0 ? -err : err);
  else emit(opened ? EV_CLOSE : EV_TLS_ERROR, slot, gen, err < 0 ? -err : err);
}

// The connection has nothing left to send: finish a pending close or half-close.
void loop::on_drained(uint32_t slot, conn& c) {
  if (c.flags & C_CLOSING) {
    close_conn(slot, 0);
    return;
  }
  if (c.flags & C_SHUT_WR) {
    c.flags &= ~C_SHUT_WR;
    c.flags |= C_WR_DONE;
    sock_shutdown_write(c.fd);
    if (c.flags & C_PEER_EOF) {  // both sides have sent FIN: nothing more can move
      close_conn(slot, 0);
      return;
    }
  }
  if ((c.flags & C_ABOVE_HIGH) && c.out.size() <= cfg.write_high / 2) {
    c.flags &= ~C_ABOVE_HIGH;
    emit(EV_WRITABLE, slot, conns.gen(slot), 0);
  }
}

void loop::move_overflow() {
  size_t i = 0;
  int32_t& n = shm.events[EV_COUNT];
  while (i < overflow.size() && static_cast<uint32_t>(n) < cfg.events_cap) {
    memcpy(shm.events + EV_HEADER + static_cast<size_t>(n) * EV_STRIDE, &overflow[i], EV_STRIDE * 4);
    n++;
    i += EV_STRIDE;
  }
  overflow.erase(overflow.begin(), overflow.begin() + static_cast<long>(i));
  shm.events[EV_OVERFLOW] = static_cast<int32_t>(overflow.size() / EV_STRIDE);
}

}  // namespace rn
