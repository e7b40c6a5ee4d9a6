#include "loop/loop.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "io/io_uring.h"
#include "loop/deadlines.h"
#include "loop/layout.h"
#include "mem/outbuf.h"
#include "poller/poller.h"
#include "rn.h"
#include "mem/slots.h"
#include "sys/clock.h"
#include "sys/uring_probe.h"
#include "transport/dialer.h"
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
  C_WR_DONE = 64,   // our FIN has been sent
  C_CONNECTING = 128,// dialed, connect in progress: not yet known to the host
};

// io_uring: what the ring holds for a connection (see the uring_* methods below).
enum : uint8_t {
  U_RECV = 1,       // a recv request is armed
  U_CANCEL = 2,     // ... and being cancelled (paused)
  U_SENDING = 4,    // a send_req is in flight
  U_ERRPOLL = 8,    // paused: a poll for reset / hang-up is armed
  U_RDHUP = 16,     // paused: that poll saw the peer's FIN (not armed again until resumed)
  U_CONNPOLL = 32,  // connecting: a POLLOUT poll is armed
};

// An io_uring send in flight: a copy of the head of the connection's outbound
// bytes, which the kernel may read until the completion. Owned by the loop, so a
// connection that closes meanwhile leaves it behind to be freed by its completion.
struct send_req {
  uint32_t slot = 0, gen = 0;
  bool orphan = false;
  msghdr mh{};
  iovec iov{};
  uint32_t off = 0, len = 0, cap = 0;
  uint8_t* data = nullptr;
};

struct conn {
  int fd = -1;
  uint32_t flags = 0;
  uint32_t mask = 0;  // interest currently registered with the poller
  uint8_t uflags = 0;
  send_req* sreq = nullptr;
  inbuf in;
  outbuf out;
  int32_t op_head = -1, op_tail = -1;
  // Native's own copy of where the inbound bytes are (the CT_BUF / CT_END it
  // publishes). JS may write anything into shared memory; native reads back only
  // CT_START, clamped by start_of() to [0, in_end] (issue 8: garbage in shared
  // memory must never make native read or write out of bounds).
  uint32_t in_end = 0;
  bool in_arena = false;
  int32_t dial_tag = 0;  // C_CONNECTING: the host's name for the dial
  conn_deadlines dl;  // idle / read / write timeouts (loop/deadlines.h)
};

struct listener {
  int fd = -1;
};

}  // namespace

// io_uring user data: kind << 56 | (generation mod 2^24) << 32 | slot or listener id.
enum : uint64_t { UK_RECV = 1, UK_SEND = 2, UK_ACCEPT = 3, UK_WAKE = 4, UK_CANCEL = 5, UK_LISTEN_POLL = 6, UK_ERRPOLL = 7, UK_CONNECT = 8 };
constexpr uint32_t kGenMask = 0xFFFFFF;
uint64_t uring_ud(uint64_t kind, uint32_t gen, uint32_t id) {
  return (kind << 56) | (static_cast<uint64_t>(gen & kGenMask) << 32) | id;
}
// Provided receive buffers per loop (each read_size bytes): the batch arena.
constexpr uint32_t kUringBufs = 16;

struct loop {
  loop_config cfg;
  loop_host host;
  loop_shared shm;
  poller* poll = nullptr;    // readiness backend; null on io_uring
  uring* ring = nullptr;     // completion backend; null on epoll
  const char* fallback = nullptr;
  std::vector<uring_event> uev;
  std::vector<uint16_t> held_bufs;   // finished buffers JS views in this batch
  std::vector<uint64_t> recv_later;  // (gen << 32 | slot) whose recv ran out of buffers
  std::vector<send_req*> free_sreqs;
  std::vector<send_req*> all_sreqs;  // every send_req made, freed with the loop
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
  // Deadlines (issue 10): the wheel, and the time of this iteration, refreshed at
  // every entry point so no clock starts from a stale time (which would fire early).
  timer_wheel wheel;
  uint64_t now_ms = 0;

  loop(const loop_config& c, const loop_host& h, const loop_shared& s)
      : cfg(c), host(h), shm(s), conns(c.max_conns), pool(h.alloc, c.read_size, c.pool_keep),
        op_next(c.ops_cap, -1) {}

  int32_t* row(uint32_t slot) { return shm.conns + static_cast<size_t>(slot) * CT_STRIDE; }
  void stat_add(int k, double v) { shm.stats[k] += v; }
  // First unconsumed inbound byte as JS left it, within what native delivered.
  uint32_t start_of(uint32_t slot, const conn& c) {
    int32_t s = row(slot)[CT_START];
    if (s < 0) return 0;
    return static_cast<uint32_t>(s) > c.in_end ? c.in_end : static_cast<uint32_t>(s);
  }
  void set_inbound(uint32_t slot, conn& c, int32_t buf, uint32_t start, uint32_t end, bool in_arena) {
    int32_t* r = row(slot);
    c.in_end = end;
    c.in_arena = in_arena;
    r[CT_BUF] = buf;
    r[CT_START] = static_cast<int32_t>(start);
    r[CT_END] = static_cast<int32_t>(end);
  }

  void emit(int32_t type, uint32_t slot, uint32_t gen, int32_t arg) {
    if (type == EV_DATA || type == EV_END) dl_on_inbound(conns[slot].dl, now_ms);
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
    if (ring) {
      uring_interest(slot, c);
      return;
    }
    uint32_t want = POLL_EDGE;
    if (!(c.flags & (C_PAUSED | C_CLOSING | C_PEER_EOF))) want |= POLL_READ;
    if (!c.out.empty()) want |= POLL_WRITE;
    if (want == c.mask) return;
    c.mask = want;
    poller_mod(poll, c.fd, token(kTokConn, slot), want);
  }

  // The last read filled all the room it was given: more may be waiting, and an
  // edge-triggered socket will not say so again. MOD makes the kernel look.
  void rearm(uint32_t slot, conn& c) {
    if (!ring) poller_mod(poll, c.fd, token(kTokConn, slot), c.mask);
  }

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
    emit(EV_CLOSE, slot, gen, err < 0 ? -err : err);
  }

  // The connection has nothing left to send: finish a pending close or half-close.
  void on_drained(uint32_t slot, conn& c) {
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
        dl_on_outbound(c.dl, now_ms);
      }
    }
    if (sent < total) {
      if (c.out.empty()) dl_on_queued(wheel, c.dl, now_ms);
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
          if (op[3] < 0 || op[4] < 0 || static_cast<uint64_t>(op[3]) + static_cast<uint32_t>(op[4]) > cfg.staging_size) continue;
          p = shm.staging + op[3];
          len = static_cast<uint32_t>(op[4]);
          // Consecutive small writes: one iovec. Only onto the iovec that ends at p
          // (a zero-length write moves staging_end without adding one; found by fuzzing).
          if (n > 0 && p == staging_end && p == static_cast<uint8_t*>(iov[n - 1].iov_base) + iov[n - 1].iov_len) {
            iov[n - 1].iov_len += len;
            total += len;
            queued += len;
            staging_end = p + len;
            continue;
          }
          staging_end = p + len;
          break;
        case OP_WRITE_REF:
          if (!host.resolve_ref || op[3] < 0 || host.resolve_ref(host.ud, op[3], &p, &len) < 0) continue;
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
        case OP_TIMEOUT:  // a = kind, b = ms (0 = off)
          if (op[3] >= 0 && op[3] < DL_KINDS && op[4] >= 0)
            dl_set(wheel, c.dl, static_cast<dl_kind>(op[3]), static_cast<uint32_t>(op[4]), now_ms, !c.out.empty());
          break;
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
    // OP_RESUME: JS consumed bytes of a paused connection, in a batch or outside
    // one. Reading resumes only with room below the cap (a stray or repeated
    // OP_RESUME must not read past it); the MOD in set_interest() makes the
    // edge-triggered socket report what is already waiting.
    if (resume && (c.flags & C_PAUSED)) {
      if (c.in_end - start_of(slot, c) < cfg.inbound_limit) c.flags &= ~C_PAUSED;
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
    if (applying) return 0;
    if (count <= 0) {
      if (count < 0) shm.ops[OP_COUNT] = 0;  // garbage: nothing to apply, start over
      return 0;
    }
    // Everything in the ops region is JS-written: a count past the region, or a
    // write outside staging, is rejected here rather than read (issue 8 fuzzing).
    if (static_cast<uint32_t>(count) > cfg.ops_cap) count = static_cast<int32_t>(cfg.ops_cap);
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
      if (c.in_arena) {
        settle_arena(slot, c);
        if (!conns.used(slot)) continue;
      } else if (start_of(slot, c) >= c.in_end && c.in.id >= 0) {
        pool.put(&c.in);
        set_inbound(slot, c, -1, 0, 0, false);
      }
      if ((c.flags & C_PAUSED) && c.in_end - start_of(slot, c) < cfg.inbound_limit) {
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
  }

  // Move a connection's unconsumed bytes out of the arena before it is reused.
  void settle_arena(uint32_t slot, conn& c) {
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
      }
    }
    set_inbound(slot, c, c.in.id, start, end, false);
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
    ssize_t n = sock_read(c.fd, c.in.data + c.in_end, static_cast<size_t>(room));
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

  void read_into_arena(uint32_t slot, conn& c, bool peer_done) {
    if (arena.cap - arena_used < cfg.read_size) {
      deliver();  // arena full: let the handler consume, then start it over
      if (!conns.used(slot)) return;
    }
    uint8_t* at = arena.data + arena_used;
    ssize_t n = sock_read(c.fd, at, cfg.read_size);
    stat_add(ST_READS, 1);
    if (n > 0) {
      set_inbound(slot, c, arena.id, arena_used, arena_used + static_cast<uint32_t>(n), true);
      arena_used += static_cast<uint32_t>(n);
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

  // ---- dial (transport/dialer.h): a connection that starts on this side ------
  int dial(const addr& a, uint32_t timeout_ms, int32_t tag) {
    int fd = dialer_start(a, cfg.conn);
    if (fd < 0) return fd;
    int64_t s = conns.acquire();
    if (s < 0) {
      sock_close(fd);
      return -ENOSPC;
    }
    uint32_t slot = static_cast<uint32_t>(s), gen = conns.gen(slot);
    int err = ring ? uring_poll_write(ring, fd, uring_ud(UK_CONNECT, gen, slot))
                   : poller_add(poll, fd, token(kTokConn, slot), POLL_WRITE | POLL_EDGE);
    if (err < 0) {
      conns.release(slot);
      row(slot)[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
      sock_close(fd);
      return err;
    }
    conn& c = conns[slot];
    c.fd = fd;
    c.flags = C_CONNECTING;
    c.mask = POLL_WRITE | POLL_EDGE;
    c.uflags = ring ? U_CONNPOLL : 0;
    c.dial_tag = tag;
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

  void on_dial_event(uint32_t slot, conn& c, bool error_reported) {
    int err = dialer_result(c.fd, error_reported);
    if (err < 0) {
      fail_dial(slot, err);
      return;
    }
    c.flags &= ~C_CONNECTING;
    c.uflags &= static_cast<uint8_t>(~U_CONNPOLL);
    wheel.cancel(&c.dl.node);
    if (ring) {
      uring_interest(slot, c);
    } else {
      c.mask = POLL_READ | POLL_EDGE;
      poller_mod(poll, c.fd, token(kTokConn, slot), c.mask);
    }
    row(slot)[CT_FLAGS] = CF_OPEN;
    if (cfg.idle_timeout_ms) dl_set(wheel, c.dl, DL_IDLE, cfg.idle_timeout_ms, now_ms, false);
    stat_add(ST_CONNS, 1);
    emit(EV_OPEN, slot, conns.gen(slot), c.dial_tag);
  }

  void fail_dial(uint32_t slot, int err) {
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
    wheel.cancel(&c.dl.node);
    conns.release(slot);
    int32_t* r = row(slot);
    r[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
    r[CT_FD] = -1;
    emit(EV_DIAL_FAIL, static_cast<uint32_t>(tag), 0, err < 0 ? -err : err);
  }

  void on_conn_event(uint32_t slot, uint32_t mask) {
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
    int err = ring ? uring_recv(ring, fd, uring_ud(UK_RECV, conns.gen(slot), slot))
                   : poller_add(poll, fd, token(kTokConn, slot), POLL_READ | POLL_EDGE);
    if (err < 0) {
      conns.release(slot);
      row(slot)[CT_GEN] = static_cast<int32_t>(conns.gen(slot));
      sock_close(fd);
      return err;
    }
    conn& c = conns[slot];
    c.fd = fd;
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
    if (cfg.idle_timeout_ms) dl_set(wheel, c.dl, DL_IDLE, cfg.idle_timeout_ms, now_ms, false);
    stat_add(ST_ACCEPTS, 1);
    stat_add(ST_CONNS, 1);
    emit(EV_OPEN, slot, conns.gen(slot), 0);
    return 0;
  }

  // ---- io_uring: the completion side of the loop ---------------------------
  // Reads land in provided buffers (the arena) and are reported by completions;
  // writes go out with sock_writev at once as on epoll (no copy when the socket
  // takes them), and only what the socket did not take is sent through the ring.

  bool uring_live(uint32_t slot, uint32_t g24) {
    return conns.used(slot) && (conns.gen(slot) & kGenMask) == g24;
  }

  // Keep the ring's requests in step with what the connection wants: a recv while
  // it may read, a cancel once it paused, a send while outbound bytes wait.
  void uring_interest(uint32_t slot, conn& c) {
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
  void uring_forget(uint32_t slot, conn& c, uint32_t gen) {
    if (c.uflags & U_RECV) uring_cancel(ring, uring_ud(UK_RECV, gen, slot), uring_ud(UK_CANCEL, 0, 0));
    if (c.uflags & U_ERRPOLL) uring_cancel(ring, uring_ud(UK_ERRPOLL, gen, slot), uring_ud(UK_CANCEL, 0, 0));
    if (c.sreq) {
      c.sreq->orphan = true;
      uring_cancel(ring, send_ud(c.sreq), uring_ud(UK_CANCEL, 0, 0));
      c.sreq = nullptr;
    }
    c.uflags = 0;
  }

  // User-space pointers fit in 56 bits on every Linux target ringnet builds for.
  static uint64_t send_ud(const send_req* q) { return (UK_SEND << 56) | reinterpret_cast<uintptr_t>(q); }

  void uring_submit_send(send_req* q, int fd) {
    q->iov.iov_base = q->data + q->off;
    q->iov.iov_len = q->len - q->off;
    q->mh = msghdr{};
    q->mh.msg_iov = &q->iov;
    q->mh.msg_iovlen = 1;
    uring_sendmsg(ring, fd, &q->mh, send_ud(q));
  }

  // Send the head of c.out (up to 256 KiB) through the ring, from a copy the kernel
  // may read until the completion.
  void uring_start_send(uint32_t slot, conn& c) {
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

  void uring_on_send(send_req* q, int32_t res) {
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

  // Bytes that arrived while the connection already holds some: copied after them
  // into its own buffer (growing it; the inbound cap pauses reading).
  bool uring_append(uint32_t slot, conn& c, const uint8_t* p, uint32_t n) {
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

  void uring_on_data(uint32_t slot, conn& c, const uring_event& ev, bool finished) {
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

  void uring_on_recv(uint32_t slot, uint32_t g24, const uring_event& ev) {
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
    if (ev.res == 0) {
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

  // The reset / hang-up poll of a paused connection (uring_interest).
  void uring_on_errpoll(uint32_t slot, uint32_t g24, int32_t res) {
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

  void uring_on_accept(uint32_t id, const uring_event& ev) {
    bool live = id < listeners.size() && listeners[id].fd >= 0;
    bool out_of_fds = false;
    if (ev.res >= 0) {
      if (live) {
        adopt(ev.res);
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

  int uring_run_once(int timeout_ms) {
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
          default: break;  // UK_CANCEL: nothing to do
        }
      }
      total += n;
      if (n < static_cast<int>(uev.size())) break;
    }
    stat_add(ST_POLLS, 1);
    tick();
    deliver();
    // Buffers came back with the batch: connections that ran out of them read again.
    for (uint64_t k : recv_later) {
      uint32_t slot = static_cast<uint32_t>(k), gen = static_cast<uint32_t>(k >> 32);
      if (conns.live(slot, gen)) uring_interest(slot, conns[slot]);
    }
    recv_later.clear();
    uring_submit(ring);
    return total;
  }

  void submit() {
    if (ring) uring_submit(ring);
  }

  // One wheel tick per iteration, before the batch goes to the host: what expires
  // is delivered with it (EV_TIMEOUT), or closed with ETIMEDOUT when the host has
  // no timeout handler.
  void tick() {
    if (wheel.size() == 0) return;
    wheel.advance(now_ms, &loop::on_timer, this);
  }

  static void on_timer(void* ud, timer_node* n) {
    loop* l = static_cast<loop*>(ud);
    uint32_t slot = n->owner;
    if (!l->conns.used(slot)) return;
    conn& c = l->conns[slot];
    if (c.flags & C_CONNECTING) {
      l->fail_dial(slot, -ETIMEDOUT);
      return;
    }
    int k = dl_expired(l->wheel, c.dl, l->now_ms, !c.out.empty());
    if (k < 0) return;
    if (l->cfg.timeout_events) {
      l->emit(EV_TIMEOUT, slot, l->conns.gen(slot), k);
    } else {
      l->close_conn(slot, -ETIMEDOUT);
    }
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

namespace {

// The io_uring side of loop_create: the ring, its provided buffers (the arena) and
// the wake fd's poll. 0, or -errno with *why set; the caller may fall back.
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

}  // namespace

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
  // The ring goes before the memory its requests use: sends in flight, the buffers.
  uring_destroy(l->ring);
  for (send_req* q : l->all_sreqs) {
    free(q->data);
    delete q;
  }
  if (l->arena.id >= 0) l->host.alloc.release(l->host.alloc.ud, l->arena.id);
  listener_spare_close(&l->spare_fd);
  poller_destroy(l->poll);
  delete l;
}

const char* loop_backend(const loop* l) { return l->ring ? "io_uring" : poller_name(); }

const char* loop_backend_fallback(const loop* l) { return l->fallback; }

int loop_fd(const loop* l) { return l->ring ? uring_fd(l->ring) : poller_fd(l->poll); }

int32_t loop_arena_id(const loop* l) { return l->arena.id; }

int loop_run_once(loop* l, int timeout_ms) {
  int64_t t = l->wheel.next_timeout(mono_ms());
  if (t >= 0 && (timeout_ms < 0 || t < timeout_ms)) timeout_ms = static_cast<int>(t);
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
    }
  }
  l->pev_count = 0;
  l->tick();
  l->deliver();
  return n;
}

int64_t loop_next_timeout(loop* l) { return l->wheel.next_timeout(mono_ms()); }

int loop_apply_ops(loop* l) {
  l->now_ms = mono_ms();
  int r = l->apply_ops();
  l->submit();
  return r;
}

void loop_deliver(loop* l) { l->deliver(); }

int32_t loop_refill_events(loop* l) {
  if (l->shm.events[EV_COUNT] == 0) l->move_overflow();
  return l->shm.events[EV_COUNT];
}

int loop_listen(loop* l, const addr& a, const listen_opts& o, addr* bound, const char** failed_call) {
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
  l->listeners.push_back(listener{fd});
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

int loop_dial(loop* l, const addr& a, uint32_t timeout_ms, int32_t tag) {
  l->now_ms = mono_ms();
  int r = l->dial(a, timeout_ms, tag);
  l->submit();
  return r;
}

int loop_adopt(loop* l, int fd) {
  l->now_ms = mono_ms();
  int r = l->adopt(fd);
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
