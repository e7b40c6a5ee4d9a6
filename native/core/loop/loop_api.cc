// loop.h's C API around the hot path: sizes of the shared regions, create and
// destroy, listeners, hand-offs, closing, stats, per-connection socket options and
// the cross-thread task queue.
#include <new>

#include "loop/loop_impl.h"
#include "poller/poller_park.h"
#include "sys/clock.h"
#include "sys/uring_probe.h"
#include "transport/listener.h"

namespace rn {

shared_sizes loop_shared_sizes(const loop_config& cfg) {
  shared_sizes s;
  s.events = (EV_HEADER + static_cast<size_t>(cfg.events_cap) * EV_STRIDE) * 4;
  s.conns = static_cast<size_t>(cfg.max_conns) * CT_STRIDE * 4;
  s.ops = (OP_HEADER + static_cast<size_t>(cfg.ops_cap) * OP_STRIDE) * 4;
  s.staging = cfg.staging_size;
  s.stats = ST_COUNT * 8;
  return s;
}

int loop_create(const loop_config& cfg, const loop_host& host, const loop_shared& shm, loop** out,
                const char** why) {
  if (cfg.read_size == 0 || cfg.max_conns == 0 || cfg.inbound_limit < cfg.read_size) return -EINVAL;
  loop* l = new (std::nothrow) loop(cfg, host, shm);
  if (!l) return -ENOMEM;
  int err = 0;
  if (cfg.backend == BACKEND_IO_URING) {
    uring_caps caps;
    const char* reason = "";
    int r = uring_probe(&caps, &reason);
    if (r == 0) r = create_ring(l, caps, &reason);
    if (r < 0) {
      if (why) *why = reason;
      if (!cfg.backend_fallback) {
        loop_destroy(l);
        return r;
      }
      l->fallback = reason;
    }
  }
  if (err == 0 && !l->ring) {
    err = poller_create(&l->poll);
    if (err == 0) err = l->tasks.open(l->poll, token(kTokWake, 0));
  }
  if (err < 0) {
    loop_destroy(l);
    return err;
  }
  for (uint32_t s = 0; s < cfg.max_conns; s++) {
    int32_t* r = l->row(s);
    r[CT_GEN] = static_cast<int32_t>(l->conns.gen(s));
    r[CT_BUF] = -1;
    r[CT_FD] = -1;
  }
  // 8 full reads per batch at most: small enough to stay in L2 for large messages
  // (a batch then costs one more JS call per 8 reads), large enough that small
  // messages from thousands of connections still share one batch.
  if (!l->ring) {
    uint64_t arena_cap = 8ull * cfg.read_size;
    void* mem = host.alloc.alloc(host.alloc.ud, arena_cap, &l->arena.id);
    if (!mem) {
      loop_destroy(l);
      return -ENOMEM;
    }
    l->arena.data = static_cast<uint8_t*>(mem);
    l->arena.cap = static_cast<uint32_t>(arena_cap);
  }
  l->now_ms = mono_ms();
  err = l->wheel.init(cfg.timer_tick_ms ? cfg.timer_tick_ms : 10, 10, l->now_ms);
  if (err < 0) {
    loop_destroy(l);
    return err;
  }
  l->spare_fd = listener_spare_open();
  *out = l;
  return 0;
}

void loop_destroy(loop* l) {
  if (!l) return;
  l->tasks.close_queue();
  l->udp_close_all();
  for (uint32_t s = 0; s < l->conns.capacity(); s++) {
    if (!l->conns.used(s)) continue;
    conn& c = l->conns[s];
    tls_sess_free(c.tls);
    c.tls = nullptr;
    sock_close(c.fd);
    l->pool.put(&c.in);
    c.out.clear(l->chunks);
    l->conns.release(s);
  }
  // Tasks still queued may own sockets handed over by a main reactor.
  l->task_buf.clear();
  l->tasks.drain(&l->task_buf);
  for (task& t : l->task_buf)
    if (t.kind == TASK_ADOPT && t.fd >= 0) sock_close(t.fd);
  loop_unlisten(l);
  // The ring goes before the memory its requests use: sends in flight, the buffers.
  uring_destroy(l->ring);
  for (send_req* q : l->all_sreqs) {
    free(q->data);
    delete q;
  }
  if (l->arena.id >= 0) l->host.alloc.release(l->host.alloc.ud, l->arena.id);
  for (listener& li : l->listeners) tls_ctx_unref(li.tls);
  for (tls_ctx* t : l->adopt_tls) tls_ctx_unref(t);
  listener_spare_close(&l->spare_fd);
  if (l->codecs.frames.id >= 0) l->host.alloc.release(l->host.alloc.ud, l->codecs.frames.id);
  poller_destroy(l->poll);
  delete l;
}

const char* loop_backend(const loop* l) { return l->ring ? "io_uring" : poller_name(); }

const char* loop_backend_fallback(const loop* l) { return l->fallback; }

int loop_fd(const loop* l) { return l->ring ? uring_fd(l->ring) : poller_fd(l->poll); }

int loop_park(loop* l, int timeout_ms) { return l->ring ? -ENOSYS : poller_park(l->poll, timeout_ms); }

void loop_unpark(loop* l) {
  if (!l->ring) poller_unpark(l->poll);
}

int32_t loop_arena_id(const loop* l) { return l->arena.id; }

void loop_deliver(loop* l) { l->deliver(); }

int32_t loop_refill_events(loop* l) {
  if (l->shm.events[EV_COUNT] == 0) l->move_overflow();
  return l->shm.events[EV_COUNT];
}

int loop_listen(loop* l, const addr& a, const listen_opts& o, addr* bound, const char** failed_call, tls_ctx* tls) {
  uint32_t id = static_cast<uint32_t>(l->listeners.size());
  int fd;
  if (l->ring) {
    // Completion: accept requests on the ring instead of a poller registration.
    fd = sock_listen(a, o, failed_call);
    if (fd < 0) return fd;
    int err = uring_accept(l->ring, fd, uring_ud(UK_ACCEPT, 0, id));
    l->submit();
    if (err < 0) {
      *failed_call = "io_uring_enter";
      sock_close(fd);
      return err;
    }
    if (bound) sock_local(fd, bound);
  } else {
    fd = listener_open(l->poll, a, o, token(kTokListener, id), bound, failed_call);
    if (fd < 0) return fd;
  }
  if (tls) tls_ctx_ref(tls);
  l->listeners.push_back(listener{fd, tls});
  return static_cast<int>(id);
}

void loop_unlisten(loop* l) {
  for (uint32_t id = 0; id < l->listeners.size(); id++) {
    listener& li = l->listeners[id];
    if (li.fd < 0) continue;
    if (l->ring) {
      uring_cancel(l->ring, uring_ud(UK_ACCEPT, 0, id), uring_ud(UK_CANCEL, 0, 0));
      uring_cancel(l->ring, uring_ud(UK_LISTEN_POLL, 0, id), uring_ud(UK_CANCEL, 0, 0));
      sock_close(li.fd);
    } else {
      listener_close(l->poll, li.fd);
    }
    li.fd = -1;
  }
  l->submit();
}

int loop_adopt(loop* l, int fd) {
  l->now_ms = mono_ms();
  int r = l->adopt(fd, l->adopt_ctx(0));
  l->submit();
  return r;
}

void loop_close_all(loop* l, bool graceful) {
  l->now_ms = mono_ms();
  l->apply_ops();
  for (uint32_t s = 0; s < l->conns.capacity(); s++) {
    if (!l->conns.used(s)) continue;
    conn& c = l->conns[s];
    if (graceful && !c.out.empty()) {
      c.flags |= C_CLOSING;
      l->set_interest(s, c);
      l->publish(s, c);
    } else {
      l->close_conn(s, 0);
    }
  }
  l->submit();
}

uint32_t loop_count(const loop* l) { return l->conns.count(); }

namespace {
// Each stats double is one aligned 8-byte store on the loop thread; a reader on
// another thread sees it whole. A relaxed atomic load says so to the compiler.
double load_stat(const loop* l, int i) {
  uint64_t bits = __atomic_load_n(reinterpret_cast<const uint64_t*>(&l->shm.stats[i]), __ATOMIC_RELAXED);
  double v;
  memcpy(&v, &bits, sizeof(v));
  return v;
}
}  // namespace

uint32_t loop_live(const loop* l) { return static_cast<uint32_t>(load_stat(l, ST_CONNS)); }

void loop_stats_snapshot(const loop* l, double* out) {
  for (int i = 0; i < ST_COUNT; i++) out[i] = load_stat(l, i);
}

int loop_conn_addr(loop* l, uint32_t slot, uint32_t gen, bool peer, addr* out) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  int fd = l->conns[slot].fd;
  return peer ? sock_peer(fd, out) : sock_local(fd, out);
}

int loop_conn_nodelay(loop* l, uint32_t slot, uint32_t gen, bool on) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  return sock_set_nodelay(l->conns[slot].fd, on);
}

int loop_conn_keepalive(loop* l, uint32_t slot, uint32_t gen, bool on, int secs) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  return sock_set_keepalive(l->conns[slot].fd, on, secs);
}

int loop_conn_bufsize(loop* l, uint32_t slot, uint32_t gen, bool send, int bytes) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  return sock_set_bufsize(l->conns[slot].fd, send, bytes);
}

int loop_conn_reset(loop* l, uint32_t slot, uint32_t gen) {
  if (!l->conns.live(slot, gen)) return -ENOTCONN;
  sock_set_linger0(l->conns[slot].fd);
  if (l->conns[slot].tls) l->conns[slot].out.clear(l->chunks);  // a reset sends no close_notify
  l->close_conn(slot, 0);
  l->submit();
  return 0;
}

int loop_post(loop* l, task&& t) {
  if (t.kind == TASK_WRITE || t.kind == TASK_CLOSE || t.kind == TASK_WAKE) {
    // The loop thread keeps each slot's current generation in the shared table
    // (an aligned int32 store); a relaxed atomic load reads it whole.
    if (t.slot >= l->cfg.max_conns) return -ENOTCONN;
    const int32_t* r = l->shm.conns + static_cast<size_t>(t.slot) * CT_STRIDE;
    int32_t gen = __atomic_load_n(&r[CT_GEN], __ATOMIC_RELAXED);
    int32_t flags = __atomic_load_n(&r[CT_FLAGS], __ATOMIC_RELAXED);
    if (static_cast<uint32_t>(gen) != t.gen || !(flags & CF_OPEN)) return -ENOTCONN;
  }
  return l->tasks.push(std::move(t));
}

void loop_close_tasks(loop* l) { l->tasks.close_queue(); }

}  // namespace rn
