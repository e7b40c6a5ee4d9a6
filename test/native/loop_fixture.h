// Shared fixture for tests that run a real loop: a host that plays the JS side (shared
// regions, a batch handler, op recording), and non-blocking clients driven from the
// same thread by alternating loop_run_once with client I/O.
#pragma once
#include <dirent.h>
#ifdef _WIN32
#include <windows.h>
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "check.h"
#include "loop/layout.h"
#include "loop/loop.h"
#include "rn.h"
#include "sys/clock.h"
#include "sys/sock.h"
#include "sys/uring_probe.h"

namespace fixture {

using namespace rn;
using namespace rn::layout;

struct event {
  int32_t type, slot, gen, arg;
  uint64_t batch;  // which on_batch call delivered it
};

// Open descriptors of this process, to prove a test closes what it opened.
inline int count_fds() {
#ifdef _WIN32
  // Sockets are handles: the process's handle count (Wine keeps it too).
  DWORD h = 0;
  return GetProcessHandleCount(GetCurrentProcess(), &h) ? static_cast<int>(h) : -1;
#else
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;  // the directory's own fd
#endif
}

// malloc_allocator underneath, plus what a JS host keeps: id -> memory (JS looks up
// its ArrayBuffer by id the same way) and a count of buffers not yet given back.
struct tracking_alloc {
  allocator inner = malloc_allocator();
  std::unordered_map<int32_t, uint8_t*> live;

  allocator get() {
    allocator a;
    a.ud = this;
    a.alloc = [](void* ud, size_t size, int32_t* id) -> void* {
      auto* t = static_cast<tracking_alloc*>(ud);
      void* p = t->inner.alloc(t->inner.ud, size, id);
      if (p) t->live[*id] = static_cast<uint8_t*>(p);
      return p;
    };
    a.release = [](void* ud, int32_t id) {
      auto* t = static_cast<tracking_alloc*>(ud);
      CHECK(t->live.erase(id) == 1);
      t->inner.release(t->inner.ud, id);
    };
    return a;
  }
  uint8_t* ptr(int32_t id) {
    auto it = live.find(id);
    CHECK(it != live.end());
    return it->second;
  }
};

// A small config: small reads and a small events region, so the tests cross read,
// chunk and overflow boundaries with little data.
inline loop_config small_config() {
  loop_config c;
  c.max_conns = 64;
  c.read_size = 16 * 1024;
  c.inbound_limit = 1024 * 1024;
  c.write_high = 64 * 1024;
  c.staging_size = 256 * 1024;
  c.ops_cap = 256;
  c.events_cap = 16;
  c.pool_keep = 8;
  // RINGNET_BACKEND=io_uring runs the same tests on the io_uring backend (CTest
  // registers each loop test twice). No fallback: a refused io_uring fails loudly.
  const char* b = getenv("RINGNET_BACKEND");
  if (b && strcmp(b, "io_uring") == 0) {
    c.backend = BACKEND_IO_URING;
    c.backend_fallback = false;
    uring_caps caps;
    const char* why = "";
    if (uring_probe(&caps, &why) < 0) {  // e.g. a container's seccomp profile
      fprintf(stderr, "skipped: io_uring is not available here: %s\n", why);
      exit(77);  // CTest's SKIP_RETURN_CODE
    }
  }
  return c;
}

class test_loop {
 public:
  using handler_fn = std::function<void(test_loop&, const event&)>;

  explicit test_loop(const loop_config& c = small_config()) : cfg(c) {
    shared_sizes sz = loop_shared_sizes(cfg);
    events_.assign(sz.events / 4, 0);
    conns_.assign(sz.conns / 4, 0);
    ops_.assign(sz.ops / 4, 0);
    staging_.assign(sz.staging, 0);
    stats_.assign(sz.stats / 8, 0);
    loop_shared shm;
    shm.events = events_.data();
    shm.conns = conns_.data();
    shm.ops = ops_.data();
    shm.staging = staging_.data();
    shm.stats = stats_.data();
    loop_host host;
    host.ud = this;
    host.alloc = alloc.get();
    host.on_batch = &test_loop::on_batch;
    host.resolve_ref = &test_loop::resolve_ref;
    const char* why = "";
    int err = loop_create(cfg, host, shm, &l, &why);
    CHECK_MSG(err == 0, "loop_create: %s %s", errno_name(-err), why);
    addr a;
    CHECK_EQ(sock_parse("127.0.0.1", 0, &a), 0);
    const char* failed = nullptr;
    CHECK(loop_listen(l, a, listen_opts(), &bound, &failed) >= 0);
    CHECK(bound.port != 0);
  }
  ~test_loop() { destroy(); }
  test_loop(const test_loop&) = delete;
  test_loop& operator=(const test_loop&) = delete;

  void destroy() {
    if (!l) return;
    loop_destroy(l);
    l = nullptr;
    CHECK(alloc.live.empty());  // every inbound buffer went back to the host
  }

  loop_config cfg;
  tracking_alloc alloc;
  loop* l = nullptr;
  addr bound;
  handler_fn handler;       // called for each event, in order; null: log only
  std::vector<std::string> refs;  // what OP_WRITE_REF's index names (JS's refs array)
  std::vector<event> log;   // every event delivered
  uint64_t batches = 0;

  int32_t* row(uint32_t slot) { return conns_.data() + static_cast<size_t>(slot) * CT_STRIDE; }
  double stat(int k) const { return stats_[static_cast<size_t>(k)]; }
  int32_t* ops() { return ops_.data(); }

  // Is (slot, gen) the live connection in that slot, as the shared table tells JS?
  bool live(uint32_t slot, uint32_t gen) {
    int32_t* r = row(slot);
    return r[CT_GEN] == static_cast<int32_t>(gen) && (r[CT_FLAGS] & CF_OPEN);
  }

  int run(int timeout_ms) { return loop_run_once(l, timeout_ms); }

  // Record an op as JS does; when the ops region is full, apply first (a JS flush).
  void op(int32_t type, uint32_t slot, uint32_t gen, int32_t a = 0, int32_t b = 0) {
    if (ops_[OP_COUNT] >= static_cast<int32_t>(cfg.ops_cap)) loop_apply_ops(l);
    int32_t* o = ops_.data() + OP_HEADER + static_cast<size_t>(ops_[OP_COUNT]) * OP_STRIDE;
    o[0] = type;
    o[1] = static_cast<int32_t>(slot);
    o[2] = static_cast<int32_t>(gen);
    o[3] = a;
    o[4] = b;
    ops_[OP_COUNT]++;
  }

  // Copy bytes into staging and record OP_WRITEs for them, flushing when staging or
  // the ops region fills. Returns false if the connection closed during a flush (the
  // caller's source bytes may be gone then).
  bool op_write(uint32_t slot, uint32_t gen, const uint8_t* p, size_t n) {
    while (n > 0) {
      size_t room = cfg.staging_size - static_cast<size_t>(ops_[OP_STAGED]);
      if (room == 0 || ops_[OP_COUNT] >= static_cast<int32_t>(cfg.ops_cap)) {
        loop_apply_ops(l);
        if (!live(slot, gen)) return false;
        continue;
      }
      size_t k = n < room ? n : room;
      int32_t off = ops_[OP_STAGED];
      memcpy(staging_.data() + off, p, k);
      ops_[OP_STAGED] += static_cast<int32_t>(k);
      op(OP_WRITE, slot, gen, off, static_cast<int32_t>(k));
      p += k;
      n -= k;
    }
    return true;
  }

  // The unconsumed inbound bytes of a live connection (empty if none or stale).
  std::pair<uint8_t*, size_t> inbound(uint32_t slot, uint32_t gen) {
    int32_t* r = row(slot);
    if (!live(slot, gen) || r[CT_BUF] < 0) return {nullptr, 0};
    return {alloc.ptr(r[CT_BUF]) + r[CT_START], static_cast<size_t>(r[CT_END] - r[CT_START])};
  }

  // Echo handler body: write back everything unconsumed and consume it.
  void echo(uint32_t slot, uint32_t gen) {
    auto in = inbound(slot, gen);
    if (in.second == 0) return;
    if (op_write(slot, gen, in.first, in.second)) row(slot)[CT_START] = row(slot)[CT_END];
  }

  size_t count(int32_t type) const {
    size_t n = 0;
    for (const event& e : log) n += e.type == type;
    return n;
  }
  std::vector<event> of_type(int32_t type) const {
    std::vector<event> v;
    for (const event& e : log)
      if (e.type == type) v.push_back(e);
    return v;
  }

 private:
  static int resolve_ref(void* ud, int32_t index, const uint8_t** p, size_t* n) {
    auto* t = static_cast<test_loop*>(ud);
    if (index < 0 || static_cast<size_t>(index) >= t->refs.size()) return -EINVAL;
    *p = reinterpret_cast<const uint8_t*>(t->refs[static_cast<size_t>(index)].data());
    *n = t->refs[static_cast<size_t>(index)].size();
    return 0;
  }

  static void on_batch(void* ud) {
    auto* t = static_cast<test_loop*>(ud);
    int32_t* ev = t->events_.data();
    t->batches++;
    CHECK(ev[EV_COUNT] > 0);
    // The count is re-read each time round: the handler's own flushes and resets
    // append events to the batch being dispatched (lib/loop.ts does the same).
    for (int32_t i = 0; i < ev[EV_COUNT]; i++) {
      CHECK(i < static_cast<int32_t>(t->cfg.events_cap));
      const int32_t* r = ev + EV_HEADER + static_cast<size_t>(i) * EV_STRIDE;
      event e{r[0], r[1], r[2], r[3], t->batches};
      t->log.push_back(e);
      if (t->handler) t->handler(*t, e);
    }
    ev[EV_COUNT] = 0;
  }

  std::vector<int32_t> events_, conns_, ops_;
  std::vector<uint8_t> staging_;
  std::vector<double> stats_;
};

// A non-blocking client socket driven from the test's thread.
struct client {
  int fd = -1;
  uint16_t port = 0;       // local port: the server sees it as the peer's
  std::string out;         // bytes to send; out[0, sent) are with the kernel
  size_t sent = 0;
  std::string in;          // bytes received
  bool reading = true;     // false: leave received bytes in the socket
  bool shut_after_send = false, shut = false;
  bool eof = false;        // read returned 0
  int read_err = 0, write_err = 0;  // -errno of a failed read / write

  explicit client(const addr& a) {
    fd = sock_connect(a);
    CHECK(fd >= 0);
    addr local;
    CHECK_EQ(sock_local(fd, &local), 0);
    port = local.port;
  }
  ~client() { close(); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void send(const std::string& s) { out += s; }
  void shutdown_after_send() { shut_after_send = true; }
  bool done_sending() const { return sent == out.size(); }
  bool finished() const { return eof || read_err != 0; }

  // Move what can move without blocking. Returns true if any byte moved.
  bool pump() {
    if (fd < 0) return false;
    bool moved = false;
    while (sent < out.size() && write_err == 0) {
      iovec_t v{const_cast<char*>(out.data() + sent), out.size() - sent};
      ssize_t w = sock_writev(fd, &v, 1);
      if (w == -EAGAIN || w == -ENOTCONN) break;  // full, or still connecting
      if (w < 0) {
        write_err = static_cast<int>(w);
        break;
      }
      sent += static_cast<size_t>(w);
      moved = true;
    }
    if (shut_after_send && !shut && done_sending() && write_err == 0) {
      shut = true;
      sock_shutdown_write(fd);
    }
    while (reading && !finished()) {
      char buf[65536];
      ssize_t n = sock_read(fd, buf, sizeof(buf));
      if (n == -EAGAIN || n == -ENOTCONN) break;
      if (n < 0) {
        read_err = static_cast<int>(n);
      } else if (n == 0) {
        eof = true;
      } else {
        in.append(buf, static_cast<size_t>(n));
        moved = true;
      }
    }
    return moved;
  }

  void close() {
    if (fd >= 0) sock_close(fd);
    fd = -1;
  }
  // Abortive close: the peer gets RST, not FIN.
  void reset() {
    if (fd < 0) return;
    sock_set_linger0(fd);
    close();
  }
};

// Alternate loop iterations with client I/O until done() or timeout_ms passes.
template <class Done>
bool drive(test_loop& t, const std::vector<client*>& clients, Done done, int timeout_ms = 10000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    bool moved = false;
    for (client* c : clients) moved = c->pump() || moved;
    if (done()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    CHECK(t.run(moved ? 0 : 1) >= 0);
  }
}

// Run the loop (5 ms polls) until done() or ms pass; false on timeout.
inline bool run_until(test_loop& t, const std::function<bool()>& done, int ms = 5000) {
  uint64_t end = mono_ms() + static_cast<uint64_t>(ms);
  while (!done()) {
    if (mono_ms() > end) return false;
    CHECK(t.run(5) >= 0);
  }
  return true;
}

// A connection as the host saw it open, and when (mono ms).
struct opened {
  int32_t slot = -1, gen = -1;
  int64_t at = 0;
};

// Drive the loop and client c until c's connection opens; the handler is replaced.
inline opened wait_open(test_loop& t, client& c) {
  opened o;
  t.handler = [&](test_loop&, const event& e) {
    if (e.type == EV_OPEN) {
      o.slot = e.slot;
      o.gen = e.gen;
      o.at = static_cast<int64_t>(mono_ms());
    }
  };
  CHECK(drive(t, {&c}, [&] { return o.slot >= 0; }));
  return o;
}

// An address nothing listens on: a port that was just free (bound, then closed).
inline addr dead_port() {
  const char* failed = nullptr;
  addr any, a;
  CHECK_EQ(sock_parse("127.0.0.1", 0, &any), 0);
  int fd = sock_listen(any, listen_opts(), &failed);
  CHECK(fd >= 0);
  CHECK_EQ(sock_local(fd, &a), 0);
  sock_close(fd);
  return a;
}

// A listener whose accept queue is full (backlog 1, four connects that are never
// accepted): Linux drops further SYNs, so a dial to it stays in progress.
struct full_listener {
  int fd = -1;
  addr a;
  std::vector<int> fillers;
  explicit full_listener(test_loop& t) {
    const char* failed = nullptr;
    addr any;
    CHECK_EQ(sock_parse("127.0.0.1", 0, &any), 0);
    listen_opts lo;
    lo.backlog = 1;
    fd = sock_listen(any, lo, &failed);
    CHECK(fd >= 0);
    CHECK_EQ(sock_local(fd, &a), 0);
    for (int i = 0; i < 4; i++) fillers.push_back(sock_connect(a));
    for (int i = 0; i < 20; i++) t.run(5);  // let the fillers' handshakes settle
  }
  ~full_listener() {
    for (int f : fillers) sock_close(f);
    sock_close(fd);
  }
  full_listener(const full_listener&) = delete;
  full_listener& operator=(const full_listener&) = delete;
};

inline std::string random_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

}  // namespace fixture
