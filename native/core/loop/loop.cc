#include "loop/loop.h"

#include <climits>
#include <cstring>
#include <new>
#include <vector>

#include "loop/layout.h"
#include "mem/outbuf.h"
#include "poller/poller.h"
#include "rn.h"
#include "mem/slots.h"
#include "transport/listener.h"

namespace rn {

using namespace layout;

namespace {

constexpr uint64_t kTokConn = 0, kTokListener = 1, kTokWake = 2;
constexpr int kIovMax = 256;
constexpr int kAcceptBurst = 128;

uint64_t token(uint64_t kind, uint32_t id) { return (kind << 32) | id; }

enum : uint32_t {
  C_IN_BATCH = 1,   // has an EV_DATA in the batch being built
  C_PAUSED = 2,     // inbound at its cap: not reading
  C_CLOSING = 4,    // close once outbound drains
  C_PEER_EOF = 8,   // peer finished sending
  C_ABOVE_HIGH = 16,// outbound went over write_high: emit EV_WRITABLE when it drains
  C_SHUT_WR = 32,   // half-close once outbound drains
};

struct conn {
  int fd = -1;
  uint32_t flags = 0;
  uint32_t mask = 0;  // interest currently registered with the poller
  inbuf in;
  outbuf out;
  int32_t op_head = -1, op_tail = -1;
};

struct listener {
  int fd = -1;
};

}  // namespace

struct loop {
  loop_config cfg;
  loop_host host;
  loop_shared shm;
  poller* poll = nullptr;
  taskq tasks;
  slot_table<conn> conns;
  bufpool pool;
  chunk_cache chunks;
  std::vector<listener> listeners;
  std::vector<uint32_t> touched;    // slots with EV_DATA in the current batch
  std::vector<uint32_t> dirty;      // slots with ops in the current apply
  std::vector<int32_t> op_next;     // per-op link in its connection's op list
  std::vector<int32_t> overflow;    // events that did not fit the events region
  std::vector<task> task_buf;
  poll_event pev[1024];
  int spare_fd = -1;                // released to accept-and-drop under EMFILE
  bool applying = false;
  // The poll results being dispatched. Closing a connection voids its events still
  // ahead there: its slot may take a new connection later in the same dispatch,
  // which must not get them (libuv invalidates in-flight events the same way).
  int pev_next = 0, pev_count = 0;
  // The batch arena: connections with no leftover bytes read here, so the common
  // case (the handler consumes everything) needs no per-connection memory at all.
  // Leftovers are copied to a private buffer after the batch (gnet's shared read
  // buffer, with zero-copy views for the handler).
  inbuf arena;
  uint32_t arena_used = 0;

  loop(const loop_config& c, const loop_host& h, const loop_shared& s)
      : cfg(c), host(h), shm(s), conns(c.max_conns), pool(h.alloc, c.read_size, c.pool_keep),
        op_next(c.ops_cap, -1) {}

  int32_t* row(uint32_t slot) { return shm.conns + static_cast<size_t>(slot) * CT_STRIDE; }
  void stat_add(int k, double v) { shm.stats[k] += v; }

  void emit(int32_t type, uint32_t slot, uint32_t gen, int32_t arg) {
    int32_t& n = shm.events[EV_COUNT];
    if (overflow.empty() && static_cast<uint32_t>(n) < cfg.events_cap) {
      int32_t* r = shm.events + EV_HEADER + static_cast<size_t>(n) * EV_STRIDE;
      r[0] = type;
      r[1] = static_cast<int32_t>(slot);
      r[2] = static_cast<int32_t>(gen);
      r[3] = arg;
      n++;
    } else {
      overflow.insert(overflow.end(), {type, static_cast<int32_t>(slot), static_cast<int32_t>(gen), arg});
      shm.events[EV_OVERFLOW] = static_cast<int32_t>(overflow.size() / EV_STRIDE);
    }
  }

  void move_overflow() {
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

  // Connections are edge-triggered. Level-triggered, every ready socket would be
  // polled twice per iteration: by libuv's epoll_wait on our epoll fd (which walks
  // our ready list) and by our own. Edge-triggered, a read that may have left
  // bytes behind re-arms with EPOLL_CTL_MOD (rearm()), and a paused connection
  // that resumes is re-evaluated by the same MOD, so nothing is lost.
  void set_interest(uint32_t slot, conn& c) {
    uint32_t want = POLL_EDGE;
    if (!(c.flags & (C_PAUSED | C_CLOSING | C_PEER_EOF))) want |= POLL_READ;
    if (!c.out.empty()) want |= POLL_WRITE;
    if (want == c.mask) return;
    c.mask = want;
    poller_mod(poll, c.fd, token(kTokConn, slot), want);
  }

  // The last read filled all the room it was given: more may be waiting, and an
  // edge-triggered socket will not say so again. MOD makes the kernel look.
  void rearm(uint32_t slot, conn& c) { poller_mod(poll, c.fd, token(kTokConn, slot), c.mask); }

  void publish(uint32_t slot, conn& c) {
    int32_t* r = row(slot);
    r[CT_OUT] = c.out.size() > INT_MAX ? INT_MAX : static_cast<int32_t>(c.out.size());
    int32_t f = CF_OPEN;
    if (c.flags & C_PAUSED) f |= CF_PAUSED;
    if (c.flags & C_CLOSING) f |= CF_CLOSING;
    if (c.flags & C_PEER_EOF) f |= CF_PEER_EOF;
    r[CT_FLAGS] = f;
  }

  void close_conn(uint32_t slot, int err) {
    conn& c = conns[slot];
    uint32_t gen = conns.gen(slot);
    poller_del(poll, c.fd);
    for (int j = pev_next; j < pev_count; j++)
      if (pev[j].token == token(kTokConn, slot)) pev[j].mask = 0;
    sock_close(c.fd);
    pool.put(&c.in);
    c.out.clear(chunks);
    conns.release(slot);
    int32_t* r = row(slot);
    r[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
    r[CT_BUF] = -1;
    r[CT_START] = r[CT_END] = r[CT_OUT] = 0;
    r[CT_FLAGS] = 0;
    r[CT_FD] = -1;
    stat_add(ST_CLOSES, 1);
    stat_add(ST_CONNS, -1);
    emit(EV_CLOSE, slot, gen, err < 0 ? -err : err);
  }

  // The connection has nothing left to send: finish a pending close or half-close.
  void on_drained(uint32_t slot, conn& c) {
    if (c.flags & (C_CLOSING | C_PEER_EOF)) {
      close_conn(slot, 0);
      return;
    }
    if (c.flags & C_SHUT_WR) {
      c.flags &= ~C_SHUT_WR;
      sock_shutdown_write(c.fd);
    }
    if ((c.flags & C_ABOVE_HIGH) && c.out.size() <= cfg.write_high / 2) {
      c.flags &= ~C_ABOVE_HIGH;
      emit(EV_WRITABLE, slot, conns.gen(slot), 0);
    }
  }

  // Send iov now if nothing is queued ahead of it, keep whatever the socket did not
  // take. Returns false if the connection was closed.
  bool send(uint32_t slot, conn& c, iovec_t* iov, int n, size_t total) {
    if (n == 0) return true;
    size_t sent = 0;
    if (c.out.empty()) {
      ssize_t w = sock_writev(c.fd, iov, n);
      stat_add(ST_WRITES, 1);
      if (w < 0 && w != -EAGAIN) {
        close_conn(slot, static_cast<int>(w));
        return false;
      }
      if (w > 0) {
        sent = static_cast<size_t>(w);
        stat_add(ST_BYTES_OUT, static_cast<double>(w));
      }
    }
    if (sent < total) {
      size_t skip = sent;
      for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
          skip -= len;
          continue;
        }
        if (c.out.append(chunks, static_cast<uint8_t*>(iov[i].iov_base) + skip, len - skip) < 0) {
          close_conn(slot, -ENOMEM);
          return false;
        }
        skip = 0;
      }
      if (c.out.size() > cfg.write_high) c.flags |= C_ABOVE_HIGH;
    }
    return true;
  }

  void apply_conn_ops(uint32_t slot) {
    conn& c = conns[slot];
    iovec_t iov[kIovMax];
    int n = 0;
    size_t total = 0;
    // Writes after a close are dropped, whether the close is earlier in this list or
    // came before it (an earlier apply, TASK_CLOSE): sending a later write after
    // dropping an earlier one would leave a hole in the stream.
    bool want_close = (c.flags & C_CLOSING) != 0, want_shut = false, resume = false;
    size_t queued = 0;  // every byte this op list writes (total resets per writev)
    const uint8_t* staging_end = nullptr;
    for (int32_t i = c.op_head; i >= 0; i = op_next[i]) {
      const int32_t* op = shm.ops + OP_HEADER + static_cast<size_t>(i) * OP_STRIDE;
      const uint8_t* p = nullptr;
      size_t len = 0;
      switch (op[0]) {
        case OP_WRITE:
          if (want_close) continue;
          p = shm.staging + op[3];
          len = static_cast<uint32_t>(op[4]);
          if (n > 0 && p == staging_end) {  // consecutive small writes: one iovec
            iov[n - 1].iov_len += len;
            total += len;
            queued += len;
            staging_end = p + len;
            continue;
          }
          staging_end = p + len;
          break;
        case OP_WRITE_REF:
          if (host.resolve_ref(host.ud, op[3], &p, &len) < 0) continue;
          staging_end = nullptr;
          break;
        case OP_WRITE_ARENA:
          // JS records these only inside a batch, whose arena bytes stay put
          // until settle_touched(), which runs after the ops are applied.
          if (want_close) continue;
          if (op[3] < 0 || op[4] < 0 || static_cast<uint64_t>(op[3]) + static_cast<uint32_t>(op[4]) > arena.cap) continue;
          p = arena.data + op[3];
          len = static_cast<uint32_t>(op[4]);
          if (n > 0 && p == static_cast<uint8_t*>(iov[n - 1].iov_base) + iov[n - 1].iov_len && p != staging_end) {
            iov[n - 1].iov_len += len;  // consecutive views of one read: one iovec
            total += len;
            queued += len;
            continue;
          }
          staging_end = nullptr;
          break;
        case OP_CLOSE: want_close = true; break;
        case OP_SHUTDOWN_WR: want_shut = true; break;
        case OP_RESUME: resume = true; break;
      }
      if (len == 0 || want_close) continue;
      queued += len;
      if (n == kIovMax) {
        if (!send(slot, c, iov, n, total)) return;
        n = 0;
        total = 0;
      }
      iov[n].iov_base = const_cast<uint8_t*>(p);
      iov[n].iov_len = len;
      n++;
      total += len;
    }
    c.op_head = c.op_tail = -1;
    // JS's write() returned false once queued bytes reached write_high; promise
    // it an EV_WRITABLE even if the socket takes everything right now.
    if (c.out.size() + queued >= cfg.write_high) c.flags |= C_ABOVE_HIGH;
    if (!send(slot, c, iov, n, total)) return;
    if ((c.flags & C_ABOVE_HIGH) && c.out.size() <= cfg.write_high / 2) {
      c.flags &= ~C_ABOVE_HIGH;
      emit(EV_WRITABLE, slot, conns.gen(slot), 0);
    }
    if (resume && (c.flags & C_PAUSED)) {
      c.flags &= ~C_PAUSED;
    }
    if (want_shut) c.flags |= C_SHUT_WR;
    if (want_close) c.flags |= C_CLOSING;
    if (c.out.empty() && (c.flags & (C_CLOSING | C_SHUT_WR))) {
      on_drained(slot, c);
      if (!conns.used(slot)) return;
    }
    set_interest(slot, c);
    publish(slot, c);
  }

  int apply_ops() {
    int32_t count = shm.ops[OP_COUNT];
    if (count <= 0 || applying) return 0;
    applying = true;
    for (int32_t i = 0; i < count; i++) {
      const int32_t* op = shm.ops + OP_HEADER + static_cast<size_t>(i) * OP_STRIDE;
      uint32_t slot = static_cast<uint32_t>(op[1]), gen = static_cast<uint32_t>(op[2]);
      if (!conns.live(slot, gen)) continue;  // closed since JS recorded it
      conn& c = conns[slot];
      op_next[i] = -1;
      if (c.op_head < 0) {
        c.op_head = i;
        dirty.push_back(slot);
      } else {
        op_next[c.op_tail] = i;
      }
      c.op_tail = i;
    }
    for (uint32_t slot : dirty) {
      if (conns.used(slot)) apply_conn_ops(slot);
    }
    dirty.clear();
    shm.ops[OP_COUNT] = 0;
    shm.ops[OP_STAGED] = 0;
    shm.ops[OP_EPOCH]++;
    if (host.on_ops_done) host.on_ops_done(host.ud);
    applying = false;
    return 0;
  }

  // After JS has seen a batch: buffers it emptied go back to the pool, and paused
  // connections it drained read again.
  void settle_touched() {
    for (uint32_t slot : touched) {
      if (!conns.used(slot)) continue;
      conn& c = conns[slot];
      c.flags &= ~C_IN_BATCH;
      int32_t* r = row(slot);
      if (r[CT_BUF] == arena.id && arena.id >= 0) {
        settle_arena(slot, c, r);
      } else if (r[CT_START] >= r[CT_END] && c.in.id >= 0) {
        pool.put(&c.in);
        r[CT_BUF] = -1;
        r[CT_START] = r[CT_END] = 0;
      }
      if ((c.flags & C_PAUSED) && r[CT_END] - r[CT_START] < static_cast<int32_t>(cfg.inbound_limit)) {
        c.flags &= ~C_PAUSED;
        set_interest(slot, c);
        publish(slot, c);
      }
    }
    touched.clear();
    arena_used = 0;
  }

  // Move a connection's unconsumed bytes out of the arena before it is reused.
  void settle_arena(uint32_t slot, conn& c, int32_t* r) {
    uint32_t start = static_cast<uint32_t>(r[CT_START]), end = static_cast<uint32_t>(r[CT_END]);
    r[CT_BUF] = -1;
    r[CT_START] = r[CT_END] = 0;
    if (start >= end) return;
    uint32_t len = end - start;
    if (pool.get(len > cfg.read_size ? len : cfg.read_size, &c.in) < 0) {
      close_conn(slot, -ENOMEM);
      return;
    }
    memcpy(c.in.data, arena.data + start, len);
    r[CT_BUF] = c.in.id;
    r[CT_END] = static_cast<int32_t>(len);
  }

  void deliver() {
    for (int round = 0; round < 1000; round++) {
      if (shm.events[EV_COUNT] == 0) {
        if (overflow.empty()) break;
        move_overflow();
      }
      stat_add(ST_BATCHES, 1);
      stat_add(ST_EVENTS, shm.events[EV_COUNT]);
      host.on_batch(host.ud);
      shm.events[EV_COUNT] = 0;
      apply_ops();
      settle_touched();
    }
  }

  // Make room for a read: reuse, compact or grow the inbound buffer. Returns the
  // free bytes at the end, 0 when the connection is at its inbound cap.
  int64_t make_room(uint32_t slot, conn& c) {
    int32_t* r = row(slot);
    if (c.in.id < 0) {
      if (pool.get(cfg.read_size, &c.in) < 0) return -ENOMEM;
      r[CT_BUF] = c.in.id;
      r[CT_START] = r[CT_END] = 0;
    }
    uint32_t start = static_cast<uint32_t>(r[CT_START]), end = static_cast<uint32_t>(r[CT_END]);
    if (start >= end) start = end = 0;
    uint32_t want = cfg.read_size < c.in.cap ? cfg.read_size : c.in.cap;
    if (c.in.cap - end < want / 2 && start > 0 && !(c.flags & C_IN_BATCH)) {
      memmove(c.in.data, c.in.data + start, end - start);
      end -= start;
      start = 0;
    }
    if (c.in.cap - end < want / 2 && !(c.flags & C_IN_BATCH) && c.in.cap < cfg.inbound_limit) {
      inbuf bigger;
      uint64_t need = static_cast<uint64_t>(end - start) + cfg.read_size;
      if (need > cfg.inbound_limit) need = cfg.inbound_limit;
      if (pool.get(static_cast<uint32_t>(need), &bigger) == 0) {
        memcpy(bigger.data, c.in.data + start, end - start);
        end -= start;
        start = 0;
        pool.put(&c.in);
        c.in = bigger;
        r[CT_BUF] = c.in.id;
      }
    }
    r[CT_START] = static_cast<int32_t>(start);
    r[CT_END] = static_cast<int32_t>(end);
    uint32_t room = c.in.cap - end;
    if (end - start >= cfg.inbound_limit) room = 0;
    return room;
  }

  // peer_done: the event said the peer has shut down its side. Edge-triggered, a
  // short read then does not prove the EOF has been seen: re-arm so the next
  // read returns it.
  void on_readable(uint32_t slot, conn& c, bool peer_done) {
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
    int32_t* r = row(slot);
    ssize_t n = sock_read(c.fd, c.in.data + r[CT_END], static_cast<size_t>(room));
    stat_add(ST_READS, 1);
    if (n > 0) {
      r[CT_END] += static_cast<int32_t>(n);
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

  void read_into_arena(uint32_t slot, conn& c, bool peer_done) {
    if (arena.cap - arena_used < cfg.read_size) {
      deliver();  // arena full: let the handler consume, then start it over
      if (!conns.used(slot)) return;
    }
    uint8_t* at = arena.data + arena_used;
    ssize_t n = sock_read(c.fd, at, cfg.read_size);
    stat_add(ST_READS, 1);
    if (n > 0) {
      int32_t* r = row(slot);
      r[CT_BUF] = arena.id;
      r[CT_START] = static_cast<int32_t>(arena_used);
      arena_used += static_cast<uint32_t>(n);
      r[CT_END] = static_cast<int32_t>(arena_used);
      stat_add(ST_BYTES_IN, static_cast<double>(n));
      c.flags |= C_IN_BATCH;
      touched.push_back(slot);
      if (static_cast<uint32_t>(n) == cfg.read_size || peer_done) rearm(slot, c);
      emit(EV_DATA, slot, conns.gen(slot), static_cast<int32_t>(n));
      return;
    }
    after_read_error(slot, c, n);
  }

  void after_read_error(uint32_t slot, conn& c, ssize_t n) {
    if (n == -EAGAIN) return;
    if (n == 0) {
      // Peer finished sending: answer what is queued, then close (gnet's rule).
      c.flags |= C_PEER_EOF;
      if (c.out.empty() && c.op_head < 0) {
        close_conn(slot, 0);
      } else {
        set_interest(slot, c);
        publish(slot, c);
      }
      return;
    }
    close_conn(slot, static_cast<int>(n));
  }

  void on_writable(uint32_t slot, conn& c) {
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

  void on_conn_event(uint32_t slot, uint32_t mask) {
    if (!conns.used(slot)) return;  // closed earlier in this same poll
    conn& c = conns[slot];
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

  void accept_burst(listener& li) {
    accept_sink sink;
    sink.ud = this;
    sink.on_fd = [](void* ud, sock_t fd) { static_cast<loop*>(ud)->adopt(fd); };
    listener_accept_burst(li.fd, kAcceptBurst, &spare_fd, &sink);
    if (sink.errors) stat_add(ST_ACCEPT_ERRORS, sink.errors);
  }

  int adopt(int fd) {
    int64_t s = conns.acquire();
    if (s < 0) {
      sock_close(fd);
      stat_add(ST_REJECTED, 1);
      return -ENOSPC;
    }
    uint32_t slot = static_cast<uint32_t>(s);
    sock_apply(fd, cfg.conn);
    int err = poller_add(poll, fd, token(kTokConn, slot), POLL_READ | POLL_EDGE);
    if (err < 0) {
      conns.release(slot);
      row(slot)[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
      sock_close(fd);
      return err;
    }
    conn& c = conns[slot];
    c.fd = fd;
    c.mask = POLL_READ | POLL_EDGE;
    int32_t* r = row(slot);
    r[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
    r[CT_BUF] = -1;
    r[CT_START] = r[CT_END] = r[CT_OUT] = 0;
    r[CT_FLAGS] = CF_OPEN;
    r[CT_FD] = fd;
    stat_add(ST_ACCEPTS, 1);
    stat_add(ST_CONNS, 1);
    emit(EV_OPEN, slot, conns.gen(slot), 0);
    return 0;
  }

  void run_tasks() {
    task_buf.clear();
    tasks.drain(&task_buf);
    for (task& t : task_buf) {
      stat_add(ST_TASKS, 1);
      int result = 0;
      switch (t.kind) {
        case TASK_ADOPT: adopt(t.fd); continue;
        case TASK_STOP: continue;
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
            } else if (send(t.slot, c, &v, 1, t.data.size()) && conns.live(t.slot, t.gen)) {
              set_interest(t.slot, c);
              publish(t.slot, c);
            } else {
              result = -EPIPE;
            }
          }
          if (t.tag) emit(EV_TASK_DONE, t.tag, 0, -result);
          continue;
      }
    }
  }
};

shared_sizes loop_shared_sizes(const loop_config& cfg) {
  shared_sizes s;
  s.events = (EV_HEADER + static_cast<size_t>(cfg.events_cap) * EV_STRIDE) * 4;
  s.conns = static_cast<size_t>(cfg.max_conns) * CT_STRIDE * 4;
  s.ops = (OP_HEADER + static_cast<size_t>(cfg.ops_cap) * OP_STRIDE) * 4;
  s.staging = cfg.staging_size;
  s.stats = ST_COUNT * 8;
  return s;
}

int loop_create(const loop_config& cfg, const loop_host& host, const loop_shared& shm, loop** out) {
  if (cfg.read_size == 0 || cfg.max_conns == 0 || cfg.inbound_limit < cfg.read_size) return -EINVAL;
  loop* l = new (std::nothrow) loop(cfg, host, shm);
  if (!l) return -ENOMEM;
  int err = poller_create(&l->poll);
  if (err == 0) err = l->tasks.open(l->poll, token(kTokWake, 0));
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
  uint64_t arena_cap = 8ull * cfg.read_size;
  void* mem = host.alloc.alloc(host.alloc.ud, arena_cap, &l->arena.id);
  if (!mem) {
    loop_destroy(l);
    return -ENOMEM;
  }
  l->arena.data = static_cast<uint8_t*>(mem);
  l->arena.cap = static_cast<uint32_t>(arena_cap);
  l->spare_fd = listener_spare_open();
  *out = l;
  return 0;
}

void loop_destroy(loop* l) {
  if (!l) return;
  l->tasks.close_queue();
  for (uint32_t s = 0; s < l->conns.capacity(); s++) {
    if (!l->conns.used(s)) continue;
    conn& c = l->conns[s];
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
  if (l->arena.id >= 0) l->host.alloc.release(l->host.alloc.ud, l->arena.id);
  listener_spare_close(&l->spare_fd);
  poller_destroy(l->poll);
  delete l;
}

int loop_fd(const loop* l) { return poller_fd(l->poll); }

int32_t loop_arena_id(const loop* l) { return l->arena.id; }

int loop_run_once(loop* l, int timeout_ms) {
  int n = poller_wait(l->poll, l->pev, 1024, timeout_ms);
  if (n < 0) return n;
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
    }
  }
  l->pev_count = 0;
  l->deliver();
  return n;
}

int loop_apply_ops(loop* l) { return l->apply_ops(); }

void loop_deliver(loop* l) { l->deliver(); }

int32_t loop_refill_events(loop* l) {
  if (l->shm.events[EV_COUNT] == 0) l->move_overflow();
  return l->shm.events[EV_COUNT];
}

int loop_listen(loop* l, const addr& a, const listen_opts& o, addr* bound, const char** failed_call) {
  uint32_t id = static_cast<uint32_t>(l->listeners.size());
  int fd = listener_open(l->poll, a, o, token(kTokListener, id), bound, failed_call);
  if (fd < 0) return fd;
  l->listeners.push_back(listener{fd});
  return static_cast<int>(id);
}

void loop_unlisten(loop* l) {
  for (listener& li : l->listeners) {
    listener_close(l->poll, li.fd);
    li.fd = -1;
  }
}

int loop_adopt(loop* l, int fd) { return l->adopt(fd); }

void loop_close_all(loop* l, bool graceful) {
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
  l->close_conn(slot, 0);
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
