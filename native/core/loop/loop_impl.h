// The loop's private half: struct loop, struct conn and their flags, shared by
// the files that implement loop.h (not for use outside native/core/loop/):
//
//   loop.cc         the hot path, top to bottom: poll -> per-fd callback (read,
//                   write, accept, tasks) -> deliver the batch -> apply its ops
//                   -> settle; and the connection state changes it makes.
//   loop_ops.cc     decoding the ops JS recorded: per-connection op lists, writes.
//   loop_uring.cc   the io_uring completion side (uring_* methods, create_ring).
//   loop_tls.cc     TLS as a filter between the socket and the stream: reads
//                   (conn_read), writes (send), teardown, the io_uring side.
//   loop_api.cc     config sizes, create/destroy and the rest of loop.h's C API.
//   loop_dial.cc    dialed connections and the deadline wheel (issue 10).
#pragma once
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "io/io_uring.h"
#include "loop/deadlines.h"
#include "loop/layout.h"
#include "loop/loop_codec.h"
#include "loop/loop.h"
#include "mem/outbuf.h"
#include "mem/slots.h"
#include "poller/poller.h"
#include "rn.h"
#include "transport/tls.h"

namespace rn {

// Private to native/core/loop/: the shared-memory names read as in the protocol.
using namespace layout;

// Poller tokens: kind << 32 | slot or listener id.
constexpr uint64_t kTokConn = 0, kTokListener = 1, kTokWake = 2, kTokUdp = 3;
constexpr int kIovMax = 256;
constexpr int kAcceptBurst = 128;

inline uint64_t token(uint64_t kind, uint32_t id) { return (kind << 32) | id; }

enum : uint32_t {
  C_IN_BATCH = 1,   // has an EV_DATA in the batch being built
  C_PAUSED = 2,     // inbound at its cap: not reading
  C_CLOSING = 4,    // close once outbound drains
  C_PEER_EOF = 8,   // peer finished sending
  C_ABOVE_HIGH = 16,// outbound went over write_high: emit EV_WRITABLE when it drains
  C_SHUT_WR = 32,   // half-close once outbound drains
  C_WR_DONE = 64,   // our FIN has been sent
  C_CONNECTING = 128,// dialed, connect in progress: not yet known to the host
  C_MORE_FRAMES = 256,// codec: the frames buffer filled; the rest go in the next batch
  C_FRAME_BAD = 512,  // codec: a frame over max_frame (or invalid) is next: closing
  C_TLS_HS = 2048,  // accepted TLS in its handshake, under the listener's handshake timeout
  C_TLS_DIAL = 1024,// dialed TLS, connected, handshake in progress: the dial still waits
};

// io_uring: what the ring holds for a connection (see loop_uring.cc).
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
  tls_sess* tls = nullptr;  // TLS connection (transport/tls.h); EV_OPEN after its handshake
  bool tls_open = false;    // EV_OPEN emitted
  uint16_t codec = 0;       // framing codec id (loop_codec.cc), 0: none
  bool tls_sni = false;     // EV_TLS_SNI emitted: the handshake waits for the host
};

struct listener {
  int fd = -1;
  tls_ctx* tls = nullptr;   // accepted connections speak TLS with this context
};

// io_uring user data: kind << 56 | (generation mod 2^24) << 32 | slot or listener id.
enum : uint64_t { UK_RECV = 1, UK_SEND = 2, UK_ACCEPT = 3, UK_WAKE = 4, UK_CANCEL = 5, UK_LISTEN_POLL = 6, UK_ERRPOLL = 7, UK_CONNECT = 8,
                  UK_UDP = 9, UK_UDP_OUT = 10, UK_UDP_AGAIN = 11 };  // UDP: loop_udp.cc
constexpr uint32_t kGenMask = 0xFFFFFF;
inline uint64_t uring_ud(uint64_t kind, uint32_t gen, uint32_t id) {
  return (kind << 56) | (static_cast<uint64_t>(gen & kGenMask) << 32) | id;
}
// Provided receive buffers per loop (each read_size bytes): the batch arena.
constexpr uint32_t kUringBufs = 16;

struct udp_sock;  // loop_udp.cc

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
  // TLS (transport/tls.h). tls_backlog: (gen << 32 | slot) of connections whose
  // decrypted bytes did not all fit the last read (an edge-triggered socket will not
  // say so again). tls_errors: the codes EV_CLOSE / EV_TLS_ERROR name (TLS_ERR_BASE).
  std::vector<uint64_t> tls_backlog;
  std::vector<tls_error> tls_errors;
  std::vector<uint8_t> tls_scratch;
  std::vector<tls_ctx*> adopt_tls;  // by main-reactor listener index: its connections' context
  std::vector<udp_sock*> udps;      // UDP sockets by id (loop_udp.cc)
  codec_state codecs;               // framing codecs (issue 12, loop_codec.cc)

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

  // A connection's inbound cap: a codec connection may hold its largest frame.
  uint32_t in_limit(const conn& c) const { return c.codec ? codecs.table[c.codec - 1u].cap : cfg.inbound_limit; }

  void submit() {
    if (ring) uring_submit(ring);
  }

  // loop.cc: the readiness path, delivery and settling, connection state.
  void on_conn_event(uint32_t slot, uint32_t mask);
  void on_readable(uint32_t slot, conn& c, bool peer_done);
  int64_t make_room(uint32_t slot, conn& c);
  void read_into_arena(uint32_t slot, conn& c, bool peer_done);
  void after_read_error(uint32_t slot, conn& c, ssize_t n);
  void on_writable(uint32_t slot, conn& c);
  void accept_burst(listener& li);
  int adopt(int fd, tls_ctx* tls);
  void run_tasks();
  void deliver();
  void settle_touched();
  void settle_arena(uint32_t slot, conn& c);
  void set_interest(uint32_t slot, conn& c);
  void close_conn(uint32_t slot, int err);
  void on_drained(uint32_t slot, conn& c);
  void move_overflow();

  // loop_ops.cc: the ops JS recorded.
  int apply_ops();
  void apply_conn_ops(uint32_t slot);
  bool send_raw(uint32_t slot, conn& c, iovec_t* iov, int n, size_t total);
  // Whether queueing n more bytes could pass outbound_limit (0: no limit).
  bool over_limit(const conn& c, size_t n) const { return cfg.outbound_limit && c.out.size() + n > cfg.outbound_limit; }

  // loop_uring.cc: the io_uring completion side.
  int uring_run_once(int timeout_ms);
  bool uring_live(uint32_t slot, uint32_t g24);
  void uring_interest(uint32_t slot, conn& c);
  void uring_forget(uint32_t slot, conn& c, uint32_t gen);
  void uring_submit_send(send_req* q, int fd);
  void uring_start_send(uint32_t slot, conn& c);
  void uring_on_send(send_req* q, int32_t res);
  bool uring_append(uint32_t slot, conn& c, const uint8_t* p, uint32_t n);
  void uring_on_data(uint32_t slot, conn& c, const uring_event& ev, bool finished);
  void uring_on_recv(uint32_t slot, uint32_t g24, const uring_event& ev);
  void uring_on_errpoll(uint32_t slot, uint32_t g24, int32_t res);
  void uring_on_accept(uint32_t id, const uring_event& ev);

  // loop_dial.cc: dialed connections (transport/dialer.h) and the deadline wheel.
  int dial(const addr& a, uint32_t timeout_ms, int32_t tag, tls_sess* tls, int codec = 0);
  void on_dial_event(uint32_t slot, conn& c, bool error_reported);
  void fail_dial(uint32_t slot, int err);
  void tick();
  static void on_timer(void* ud, timer_node* n);
  // loop_tls.cc: TLS connections.
  bool send(uint32_t slot, conn& c, iovec_t* iov, int n, size_t total);
  ssize_t conn_read(uint32_t slot, conn& c, uint8_t* buf, size_t len, bool from_socket = true);
  bool tls_teardown(conn& c, int err);
  void tls_dial_start(uint32_t slot, conn& c);
  tls_ctx* adopt_ctx(uint32_t listener) const { return listener < adopt_tls.size() ? adopt_tls[listener] : nullptr; }
  int tls_code(const tls_error& e);
  bool tls_flush(uint32_t slot, conn& c);
  ssize_t tls_fail(uint32_t slot, conn& c);
  void tls_drain_backlog();
  void uring_tls_data(uint32_t slot, conn& c, const uring_event& ev, bool finished);
  void uring_tls_more(uint32_t slot, conn& c);
  ssize_t conn_read_buffered(uint32_t slot, conn& c, uint8_t* buf, size_t len) {
    return conn_read(slot, c, buf, len, false);
  }
  bool uring_tls_result(uint32_t slot, conn& c, ssize_t r, uint32_t gen);
  // loop_udp.cc: UDP sockets (loop/loop_udp.h).
  udp_sock* udp_get(int id);
  void udp_ready(uint32_t id, uint32_t mask);
  void udp_uring_done(uint32_t id, uint32_t g24, uint64_t kind, int32_t res, bool more);
  void udp_arm(uint32_t id, udp_sock* s);
  void udp_read(uint32_t id, udp_sock* s);
  bool udp_flush(uint32_t id, udp_sock* s);
  void udp_finish_close(uint32_t id, udp_sock* s);
  void udp_close_all();
  // loop_codec.cc: framing codecs (issue 12): frame lists before each batch,
  // leftovers and bad frames after it.
  void decode_frames();
  void decode_conn(uint32_t slot, conn& c);
  bool codec_settle(uint32_t slot, conn& c);
  void codec_refeed();
};

// loop_uring.cc: the io_uring side of loop_create: the ring, its provided buffers
// (the arena) and the wake fd's poll. 0, or -errno with *why set; the caller may
// fall back.
int create_ring(loop* l, const uring_caps& caps, const char** why);

}  // namespace rn
