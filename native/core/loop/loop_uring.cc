// io_uring: the completion side of the loop.
// Reads land in provided buffers (the arena) and are reported by completions;
// writes go out with sock_writev at once as on epoll (no copy when the socket
// takes them), and only what the socket did not take is sent through the ring.
// Built everywhere: without liburing, io/io_uring_none.cc stubs io/io_uring.h and
// the probe refuses, so no loop gets here.
#include <new>

#include "loop/loop_impl.h"
#include "sys/clock.h"
#include "transport/listener.h"

namespace rn {

namespace {
// User-space pointers fit in 56 bits on every Linux target ringnet builds for.
uint64_t send_ud(const send_req* q) { return (UK_SEND << 56) | reinterpret_cast<uintptr_t>(q); }
}  // namespace

bool loop::uring_live(uint32_t slot, uint32_t g24) {
  return conns.used(slot) && (conns.gen(slot) & kGenMask) == g24;
}

int loop::uring_run_once(int timeout_ms) {
  if (timeout_ms != 0) {
    int w = uring_wait(ring, timeout_ms);
    if (w < 0 && w != -ETIME) return w;
  }
  now_ms = mono_ms();
  int total = 0;
  for (int round = 0; round < 8; round++) {
    int n = uring_reap(ring, uev.data(), static_cast<int>(uev.size()));
    for (int i = 0; i < n; i++) {
      const uring_event& ev = uev[static_cast<size_t>(i)];
      uint64_t kind = ev.ud >> 56;
      uint32_t id = static_cast<uint32_t>(ev.ud), g24 = static_cast<uint32_t>(ev.ud >> 32) & kGenMask;
      switch (kind) {
        case UK_RECV: uring_on_recv(id, g24, ev); break;
        case UK_SEND:
          uring_on_send(reinterpret_cast<send_req*>(static_cast<uintptr_t>(ev.ud & ((uint64_t{1} << 56) - 1))), ev.res);
          break;
        case UK_ACCEPT: uring_on_accept(id, ev); break;
        case UK_ERRPOLL: uring_on_errpoll(id, g24, ev.res); break;
        case UK_CONNECT:
          if (uring_live(id, g24) && (conns[id].flags & C_CONNECTING)) {
            conns[id].uflags &= static_cast<uint8_t>(~U_CONNPOLL);
            on_dial_event(id, conns[id], ev.res < 0 || uring_poll_hung_up(ev.res));
          }
          break;
        case UK_LISTEN_POLL:  // a connection is pending again after EMFILE: accept it
          if (id < listeners.size() && listeners[id].fd >= 0 && ev.res != -ECANCELED)
            uring_accept(ring, listeners[id].fd, uring_ud(UK_ACCEPT, 0, id));
          break;
        case UK_WAKE:
          run_tasks();
          if (!(ev.flags & URING_MORE)) uring_poll_read(ring, tasks.wake_fd(), uring_ud(UK_WAKE, 0, 0));
          break;
        case UK_UDP:
        case UK_UDP_OUT:
        case UK_UDP_AGAIN: udp_uring_done(id, g24, kind, ev.res, (ev.flags & URING_MORE) != 0); break;
        default: break;  // UK_CANCEL: nothing to do
      }
    }
    total += n;
    if (n < static_cast<int>(uev.size())) break;
  }
  stat_add(ST_POLLS, 1);
  tick();
  deliver();
  tls_drain_backlog();
  // Buffers came back with the batch: connections that ran out of them read again.
  for (uint64_t k : recv_later) {
    uint32_t slot = static_cast<uint32_t>(k), gen = static_cast<uint32_t>(k >> 32);
    if (conns.live(slot, gen)) uring_interest(slot, conns[slot]);
  }
  recv_later.clear();
  uring_submit(ring);
  return total;
}

void loop::uring_on_recv(uint32_t slot, uint32_t g24, const uring_event& ev) {
  bool finished = (ev.flags & URING_BUF) && !(ev.flags & URING_BUF_MORE);
  if (!uring_live(slot, g24)) {  // closed since: the cancel is on its way
    if (finished) uring_buf_return(ring, ev.buf);
    return;
  }
  conn& c = conns[slot];
  if (!(ev.flags & URING_MORE)) c.uflags &= static_cast<uint8_t>(~(U_RECV | U_CANCEL));
  if (ev.res > 0) {
    stat_add(ST_READS, 1);
    stat_add(ST_BYTES_IN, ev.res);
    if (c.flags & (C_CLOSING | C_PEER_EOF)) {
      if (finished) uring_buf_return(ring, ev.buf);  // closing: nothing reads them
    } else {
      uint32_t gen = conns.gen(slot);
      uring_on_data(slot, c, ev, finished);
      if (!conns.live(slot, gen)) return;
    }
    if (!(c.uflags & U_RECV)) uring_interest(slot, c);  // one-shot recv, or ended by the kernel
    return;
  }
  if (ev.res == 0 && c.tls && !c.tls_open) {
    close_conn(slot, -ECONNRESET);  // gone mid-handshake
    return;
  }
  if (ev.res == 0) {
    // TLS: the peer's close_notify already ended the stream (uring_tls_result);
    // the FIN under it is not a second end.
    if (c.flags & C_PEER_EOF) return;
    // Peer finished sending. As on epoll (after_read_error): EV_END, and the
    // decision to close (or, half-open, to keep writing) after the batch, in
    // settle_touched(), so bytes that came before the FIN are answered first.
    c.flags |= C_PEER_EOF;
    publish(slot, c);
    emit(EV_END, slot, conns.gen(slot), 0);
    if (!(c.flags & C_IN_BATCH)) {
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
    }
    return;
  }
  if (ev.res == -ENOBUFS) {  // every buffer is in this batch: arm again after it
    recv_later.push_back(static_cast<uint64_t>(conns.gen(slot)) << 32 | slot);
    return;
  }
  if (ev.res == -ECANCELED) {
    uring_interest(slot, c);  // resumed before the cancel landed: read again
    return;
  }
  close_conn(slot, ev.res);
}

void loop::uring_on_data(uint32_t slot, conn& c, const uring_event& ev, bool finished) {
  if (c.tls) {
    uring_tls_data(slot, c, ev, finished);
    return;
  }
  uint32_t n = static_cast<uint32_t>(ev.res);
  if (c.in.id < 0 && !(c.flags & C_IN_BATCH)) {
    // The common case: JS views the bytes where the kernel put them.
    uint32_t off = static_cast<uint32_t>(ev.data - arena.data);
    set_inbound(slot, c, arena.id, off, off + n, true);
    if (finished) held_bufs.push_back(ev.buf);
  } else {
    bool ok = uring_append(slot, c, ev.data, n);
    if (finished) uring_buf_return(ring, ev.buf);
    if (!ok) {
      close_conn(slot, -ENOMEM);
      return;
    }
  }
  if (!(c.flags & C_IN_BATCH)) {
    c.flags |= C_IN_BATCH;
    touched.push_back(slot);
    emit(EV_DATA, slot, conns.gen(slot), static_cast<int32_t>(n));
  }
  if (c.in_end - start_of(slot, c) >= cfg.inbound_limit && !(c.flags & C_PAUSED)) {
    c.flags |= C_PAUSED;
    stat_add(ST_PAUSES, 1);
    uring_interest(slot, c);
    publish(slot, c);
  }
}

// Bytes that arrived while the connection already holds some: copied after them
// into its own buffer (growing it; the inbound cap pauses reading).
bool loop::uring_append(uint32_t slot, conn& c, const uint8_t* p, uint32_t n) {
  uint32_t start = start_of(slot, c), end = c.in_end;
  bool in_arena = c.in_arena;
  const uint8_t* src = in_arena ? arena.data : c.in.data;
  uint64_t need = static_cast<uint64_t>(end - start) + n;
  if (need > UINT32_MAX / 2) return false;
  if (in_arena || c.in.cap - end < n) {
    if (!in_arena && need <= c.in.cap) {
      memmove(c.in.data, c.in.data + start, end - start);
    } else {
      inbuf bigger;
      uint32_t size = static_cast<uint32_t>(need > cfg.read_size ? need : cfg.read_size);
      if (pool.get(size, &bigger) < 0) return false;
      memcpy(bigger.data, src + start, end - start);
      if (!in_arena) pool.put(&c.in);
      c.in = bigger;
    }
    end -= start;
    start = 0;
  }
  memcpy(c.in.data + end, p, n);
  set_inbound(slot, c, c.in.id, start, end + n, false);
  return true;
}

// The reset / hang-up poll of a paused connection (uring_interest).
void loop::uring_on_errpoll(uint32_t slot, uint32_t g24, int32_t res) {
  if (!uring_live(slot, g24)) return;
  conn& c = conns[slot];
  c.uflags &= static_cast<uint8_t>(~U_ERRPOLL);
  if (res < 0) return;  // cancelled
  if (uring_poll_hung_up(res)) {
    int err = sock_error(c.fd);
    close_conn(slot, err < 0 ? err : (c.out.empty() ? 0 : -EPIPE));
    return;
  }
  // The peer's FIN only: a resumed read reaches it in order, after the bytes before it.
  if (c.flags & C_PAUSED) c.uflags |= U_RDHUP;
  uring_interest(slot, c);
}

void loop::uring_on_accept(uint32_t id, const uring_event& ev) {
  bool live = id < listeners.size() && listeners[id].fd >= 0;
  bool out_of_fds = false;
  if (ev.res >= 0) {
    if (live) {
      adopt(ev.res, listeners[id].tls);
    } else {
      sock_close(ev.res);
    }
  } else if (ev.res != -ECANCELED) {
    stat_add(ST_ACCEPT_ERRORS, 1);
    out_of_fds = ev.res == -EMFILE || ev.res == -ENFILE;
    if (out_of_fds && live && spare_fd >= 0) {
      // Out of descriptors: the pending connection would fail every accept
      // again. Spend the spare fd to accept it and drop it (libuv's trick).
      listener_spare_close(&spare_fd);
      int dropped = sock_accept(listeners[id].fd);
      if (dropped >= 0) sock_close(dropped);
      spare_fd = listener_spare_open();
    }
  }
  if ((ev.flags & URING_MORE) || !live || ev.res == -ECANCELED) return;
  if (out_of_fds) {
    // io_uring's accept takes a descriptor before it looks for a connection,
    // so armed again now it would fail at once, forever. Wait for the next
    // pending connection instead (readiness, as the epoll backend does).
    uring_poll_once(ring, listeners[id].fd, uring_ud(UK_LISTEN_POLL, 0, id));
    return;
  }
  uring_accept(ring, listeners[id].fd, uring_ud(UK_ACCEPT, 0, id));
}

// Keep the ring's requests in step with what the connection wants: a recv while
// it may read, a cancel once it paused, a send while outbound bytes wait.
void loop::uring_interest(uint32_t slot, conn& c) {
  bool want_read = !(c.flags & (C_PAUSED | C_CLOSING | C_PEER_EOF));
  uint64_t rud = uring_ud(UK_RECV, conns.gen(slot), slot);
  if (want_read && !(c.uflags & U_RECV)) {
    if (uring_recv(ring, c.fd, rud) == 0) c.uflags |= U_RECV;
  } else if ((c.flags & C_PAUSED) && (c.uflags & U_RECV) && !(c.uflags & U_CANCEL)) {
    uring_cancel(ring, rud, uring_ud(UK_CANCEL, 0, 0));
    c.uflags |= U_CANCEL;
  }
  // Not reading, a connection would not see a reset until it resumed (epoll still
  // reports EPOLLERR/EPOLLHUP then): a poll watches for them while it is paused.
  if (c.flags & C_PAUSED) {
    if (!(c.uflags & (U_ERRPOLL | U_RDHUP)) &&
        uring_poll_error(ring, c.fd, uring_ud(UK_ERRPOLL, conns.gen(slot), slot)) == 0)
      c.uflags |= U_ERRPOLL;
  } else {
    c.uflags &= static_cast<uint8_t>(~U_RDHUP);
  }
  if (!c.out.empty() && !(c.uflags & U_SENDING)) uring_start_send(slot, c);
}

// The connection is closing: its requests are cancelled (the kernel keeps the
// socket alive until they end); a send in flight is left to free itself.
void loop::uring_forget(uint32_t slot, conn& c, uint32_t gen) {
  if (c.uflags & U_RECV) uring_cancel(ring, uring_ud(UK_RECV, gen, slot), uring_ud(UK_CANCEL, 0, 0));
  if (c.uflags & U_ERRPOLL) uring_cancel(ring, uring_ud(UK_ERRPOLL, gen, slot), uring_ud(UK_CANCEL, 0, 0));
  if (c.sreq) {
    c.sreq->orphan = true;
    uring_cancel(ring, send_ud(c.sreq), uring_ud(UK_CANCEL, 0, 0));
    c.sreq = nullptr;
  }
  c.uflags = 0;
}

// Send the head of c.out (up to 256 KiB) through the ring, from a copy the kernel
// may read until the completion.
void loop::uring_start_send(uint32_t slot, conn& c) {
  constexpr size_t kMaxSend = 256 * 1024;
  size_t want = c.out.size() < kMaxSend ? c.out.size() : kMaxSend;
  send_req* q;
  if (!free_sreqs.empty()) {
    q = free_sreqs.back();
    free_sreqs.pop_back();
  } else {
    q = new (std::nothrow) send_req();
    if (!q) return;  // retried at the next interest change
    all_sreqs.push_back(q);
  }
  if (q->cap < want) {
    uint8_t* d = static_cast<uint8_t*>(realloc(q->data, want));
    if (!d) {
      free_sreqs.push_back(q);
      return;
    }
    q->data = d;
    q->cap = static_cast<uint32_t>(want);
  }
  iovec_t iov[64];
  int n = c.out.peek(iov, 64);
  size_t copied = 0;
  for (int i = 0; i < n && copied < want; i++) {
    size_t take = iov[i].iov_len < want - copied ? iov[i].iov_len : want - copied;
    memcpy(q->data + copied, iov[i].iov_base, take);
    copied += take;
  }
  q->slot = slot;
  q->gen = conns.gen(slot);
  q->orphan = false;
  q->off = 0;
  q->len = static_cast<uint32_t>(copied);
  c.sreq = q;
  c.uflags |= U_SENDING;
  uring_submit_send(q, c.fd);
}

void loop::uring_submit_send(send_req* q, int fd) {
  q->iov.iov_base = q->data + q->off;
  q->iov.iov_len = q->len - q->off;
  q->mh = msghdr{};
  q->mh.msg_iov = &q->iov;
  q->mh.msg_iovlen = 1;
  uring_sendmsg(ring, fd, &q->mh, send_ud(q));
}

void loop::uring_on_send(send_req* q, int32_t res) {
  if (q->orphan) {
    free_sreqs.push_back(q);
    return;
  }
  uint32_t slot = q->slot, gen = q->gen;
  conn& c = conns[slot];
  if (res == -EAGAIN || res == -EINTR) {
    uring_submit_send(q, c.fd);
    return;
  }
  if (res <= 0) {
    c.sreq = nullptr;
    c.uflags &= static_cast<uint8_t>(~U_SENDING);
    free_sreqs.push_back(q);
    close_conn(slot, res < 0 ? res : -EPIPE);
    return;
  }
  stat_add(ST_WRITES, 1);
  stat_add(ST_BYTES_OUT, res);
  dl_on_outbound(c.dl, now_ms);
  c.out.consume(chunks, static_cast<size_t>(res));
  q->off += static_cast<uint32_t>(res);
  if (q->off < q->len) {  // partial send: the rest goes again
    uring_submit_send(q, c.fd);
    publish(slot, c);
    return;
  }
  c.sreq = nullptr;
  c.uflags &= static_cast<uint8_t>(~U_SENDING);
  free_sreqs.push_back(q);
  if (c.out.empty()) {
    on_drained(slot, c);
    if (!conns.live(slot, gen)) return;
  } else if ((c.flags & C_ABOVE_HIGH) && c.out.size() <= cfg.write_high / 2) {
    c.flags &= ~C_ABOVE_HIGH;
    emit(EV_WRITABLE, slot, gen, 0);
  }
  uring_interest(slot, c);
  publish(slot, c);
}

// loop_create on io_uring (declared in loop_impl.h).
int create_ring(loop* l, const uring_caps& caps, const char** why) {
  uint64_t arena_cap = uint64_t{kUringBufs} * l->cfg.read_size;
  void* mem = l->host.alloc.alloc(l->host.alloc.ud, arena_cap, &l->arena.id);
  if (!mem) {
    *why = "io_uring: no memory for the receive buffers";
    return -ENOMEM;
  }
  l->arena.data = static_cast<uint8_t*>(mem);
  l->arena.cap = static_cast<uint32_t>(arena_cap);
  int err = l->tasks.open_eventfd();
  if (err < 0) {
    *why = "io_uring: no eventfd for the task queue";
    l->host.alloc.release(l->host.alloc.ud, l->arena.id);
    l->arena = inbuf{};
    return err;
  }
  uring_params p;
  p.entries = 1024;
  p.bufs = l->arena.data;
  p.buf_size = l->cfg.read_size;
  p.buf_count = kUringBufs;
  err = uring_create(p, caps, &l->ring);
  if (err == 0) err = uring_poll_read(l->ring, l->tasks.wake_fd(), uring_ud(UK_WAKE, 0, 0));
  if (err == 0) err = uring_submit(l->ring) < 0 ? -EIO : 0;
  if (err < 0) {
    *why = "io_uring: setting up the ring and its buffer ring failed";
    uring_destroy(l->ring);
    l->ring = nullptr;
    l->host.alloc.release(l->host.alloc.ud, l->arena.id);
    l->arena = inbuf{};
    return err;
  }
  l->uev.resize(1024);
  return 0;
}

}  // namespace rn
