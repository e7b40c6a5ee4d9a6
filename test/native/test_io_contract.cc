// The contract of io/io.h, for every backend built in: the backend named by
// RINGNET_IO_BACKEND (CTest runs io_contract_<name>), else each registered one.
// Accept, read, send, peer FIN and RST, wake from another thread, many
// connections, and a close from a callback that voids events already reported.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "io/io.h"

using namespace rn;

namespace {

struct server;

struct conn_w {
  io_watcher w;  // first: the callbacks cast back
  server* s = nullptr;
  uint8_t buf[4096];
  std::string got;
  int reads = 0;
  int eof = 0;    // IO_READ res 0 seen
  int error = 0;  // IO_READ res < 0
  bool echo = true;
  bool closed = false;
  bool reused = false;     // closed, then the same watcher memory watches a new socket
  int bufs_after_reuse = 0;  // read_buf calls since: a stale event would make one
};

struct server {
  io* x = nullptr;
  io_watcher lw;
  io_watcher wake;
  int wakes = 0;
  std::vector<std::unique_ptr<conn_w>> conns;
  conn_w* close_next_from = nullptr;  // when it reads, close the other one
  int voided_reads = 0;               // reads delivered to a closed conn (must stay 0)
  bool reuse_closed = false;

  static void on_conn(io_watcher* w, const io_event& e) {
    conn_w* c = reinterpret_cast<conn_w*>(w);
    server* s = c->s;
    if (c->reused) return;  // the new socket's own events (none expected here)
    if (c->closed) {
      s->voided_reads++;
      return;
    }
    if (e.type != IO_READ) return;
    if (e.res > 0) {
      c->reads++;
      c->got.append(reinterpret_cast<char*>(e.data), static_cast<size_t>(e.res));
      if (c->echo) {
        iovec_t v{e.data, static_cast<size_t>(e.res)};
        ssize_t sent = io_send(s->x, w, &v, 1);
        CHECK_EQ(sent, static_cast<ssize_t>(e.res));  // small: the socket takes it all
      }
      if (s->close_next_from == c) {
        for (auto& o : s->conns)
          if (o.get() != c && !o->closed) {
            CHECK_EQ(io_close(s->x, &o->w), 0);
            o->closed = true;
            if (s->reuse_closed) {
              // The loop reuses a slot at once: same watcher, new socket.
              o->w.fd = sock_connect(s->at);
              CHECK(o->w.fd >= 0);
              CHECK_EQ(io_watch_conn(s->x, &o->w), 0);
              o->reused = true;
            }
          }
        s->close_next_from = nullptr;
      }
    } else if (e.res == 0) {
      c->eof++;
    } else {
      c->error = e.res;
    }
  }
  static void on_buf(io_watcher* w, io_buf* b) {
    conn_w* c = reinterpret_cast<conn_w*>(w);
    if (c->reused) c->bufs_after_reuse++;
    b->data = c->buf;
    b->len = sizeof(c->buf);
  }
  static void on_listener(io_watcher* w, const io_event& e) {
    server* s = reinterpret_cast<server*>(reinterpret_cast<char*>(w) - offsetof(server, lw));
    CHECK_EQ(static_cast<int>(e.type), static_cast<int>(IO_ACCEPTED));
    CHECK(e.res >= 0);
    auto c = std::make_unique<conn_w>();
    c->s = s;
    c->w.cb = on_conn;
    c->w.read_buf = on_buf;
    c->w.fd = e.res;
    CHECK_EQ(io_watch_conn(s->x, &c->w), 0);
    s->conns.push_back(std::move(c));
  }
  static void on_wake(io_watcher* w, const io_event& e) {
    server* s = reinterpret_cast<server*>(reinterpret_cast<char*>(w) - offsetof(server, wake));
    CHECK_EQ(static_cast<int>(e.type), static_cast<int>(IO_WAKE));
    s->wakes++;
  }

  addr at;
  explicit server(const char* backend) {
    char why[200] = {0};
    io_config cfg;
    int err = io_create(backend, cfg, &x, why, sizeof(why));
    CHECK_MSG(err == 0, "io_create(%s): %d %s", backend, err, why);
    CHECK(strcmp(io_name(x), backend) == 0);
    addr a;
    CHECK_EQ(sock_parse("127.0.0.1", 0, &a), 0);
    const char* failed = nullptr;
    lw.fd = sock_listen(a, listen_opts(), &failed);
    CHECK(lw.fd >= 0);
    CHECK_EQ(sock_local(lw.fd, &at), 0);
    lw.cb = on_listener;
    CHECK_EQ(io_watch_listener(x, &lw), 0);
    wake.cb = on_wake;
    CHECK_EQ(io_watch_wake(x, &wake), 0);
  }
  ~server() {
    for (auto& c : conns)
      if (!c->closed || c->reused) CHECK(io_close(x, &c->w) >= 0);
    CHECK_EQ(io_close(x, &lw), 0);
    io_destroy(x);
  }
  void spin(int rounds = 1, int timeout_ms = 10) {
    for (int i = 0; i < rounds; i++) CHECK(io_poll(x, timeout_ms) >= 0);
  }
  // Poll until pred holds (or fail after ~2 s).
  template <class F>
  void until(F pred, const char* what) {
    for (int i = 0; i < 400 && !pred(); i++) spin(1, 5);
    CHECK_MSG(pred(), "timed out waiting for %s", what);
  }
};

int client(const addr& at) {
  int fd = sock_connect(at);
  CHECK(fd >= 0);
  return fd;
}

void client_send(int fd, const std::string& s) {
  for (int i = 0; i < 200; i++) {
    iovec_t v{const_cast<char*>(s.data()), s.size()};
    ssize_t n = sock_writev(fd, &v, 1);
    if (n == static_cast<ssize_t>(s.size())) return;
    CHECK(n == -EAGAIN || n == -ENOTCONN);  // still connecting
    usleep(2000);
  }
  CHECK(!"client could not send");
}

std::string client_read(server& s, int fd, size_t want) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 400 && got.size() < want; i++) {
    s.spin(1, 5);
    ssize_t n = sock_read(fd, buf, sizeof(buf));
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::vector<std::string> backends() {
  if (const char* b = getenv("RINGNET_IO_BACKEND")) return {b};
  size_t n = 0;
  const io_backend* const* all = io_backends(&n);
  std::vector<std::string> v;
  for (size_t i = 0; i < n; i++) v.push_back(all[i]->name);
  return v;
}

}  // namespace

TEST(unknown_backend_is_enosys_with_a_reason) {
  io* x = nullptr;
  char why[200] = {0};
  CHECK_EQ(io_create("no-such-backend", io_config(), &x, why, sizeof(why)), -ENOSYS);
  CHECK(strstr(why, "no-such-backend") != nullptr);
}

TEST(accept_read_send_echo) {
  for (const std::string& b : backends()) {
    server s(b.c_str());
    int fd = client(s.at);
    s.until([&] { return s.conns.size() == 1; }, "accept");
    client_send(fd, "hello seam");
    CHECK_EQ(client_read(s, fd, 10), std::string("hello seam"));
    CHECK_EQ(s.conns[0]->got, std::string("hello seam"));
    sock_close(fd);
  }
}

TEST(peer_fin_reads_zero_and_reset_reads_an_error) {
  for (const std::string& b : backends()) {
    server s(b.c_str());
    int a = client(s.at), r = client(s.at);
    s.until([&] { return s.conns.size() == 2; }, "accept");
    CHECK_EQ(sock_shutdown_write(a), 0);
    s.until([&] { return s.conns[0]->eof + s.conns[1]->eof == 1; }, "FIN");
    CHECK_EQ(sock_set_linger0(r), 0);
    sock_close(r);
    s.until([&] { return s.conns[0]->error + s.conns[1]->error != 0; }, "RST");
    int err = s.conns[0]->error ? s.conns[0]->error : s.conns[1]->error;
    CHECK_EQ(err, -ECONNRESET);
    sock_close(a);
  }
}

TEST(wake_from_another_thread_coalesces_and_is_not_lost) {
  for (const std::string& b : backends()) {
    server s(b.c_str());
    std::thread t([&] {
      for (int i = 0; i < 100; i++) CHECK_EQ(io_wake(s.x), 0);
    });
    t.join();
    s.until([&] { return s.wakes >= 1; }, "wake");
    int seen = s.wakes;
    s.spin(3, 5);
    CHECK_EQ(s.wakes, seen);  // acknowledged: no wake-ups without io_wake
    CHECK_EQ(io_wake(s.x), 0);
    s.until([&] { return s.wakes == seen + 1; }, "second wake");
  }
}

TEST(many_connections_each_echoed) {
  for (const std::string& b : backends()) {
    server s(b.c_str());
    constexpr int kN = 100;
    std::vector<int> fds;
    for (int i = 0; i < kN; i++) fds.push_back(client(s.at));
    s.until([&] { return s.conns.size() == kN; }, "accepts");
    for (int i = 0; i < kN; i++) client_send(fds[i], "m" + std::to_string(i) + ";");
    for (int i = 0; i < kN; i++) {
      std::string want = "m" + std::to_string(i) + ";";
      CHECK_EQ(client_read(s, fds[i], want.size()), want);
    }
    for (int fd : fds) sock_close(fd);
  }
}

// Two connections readable in the same poll; the first one's callback closes the
// second: its event, already reported, must not reach it.
TEST(close_from_a_callback_voids_events_in_flight) {
  for (const std::string& b : backends()) {
    server s(b.c_str());
    s.reuse_closed = true;
    int a = client(s.at), c = client(s.at);
    s.until([&] { return s.conns.size() == 2; }, "accept");
    for (auto& k : s.conns) k->echo = false;
    client_send(a, "x");
    client_send(c, "y");
    usleep(20000);  // both readable before the next poll
    // Whichever the backend reports first closes the other.
    s.close_next_from = nullptr;
    for (auto& k : s.conns) k->s = &s;
    // Arm: the first conn that reads closes every other one.
    struct arm {
      static void cb(io_watcher* w, const io_event& e) {
        conn_w* k = reinterpret_cast<conn_w*>(w);
        if (!k->s->close_next_from) k->s->close_next_from = k;
        server::on_conn(w, e);
      }
    };
    for (auto& k : s.conns) k->w.cb = arm::cb;
    s.until([&] { return s.conns[0]->closed || s.conns[1]->closed; }, "the close");
    s.reuse_closed = false;
    s.spin(3, 5);
    CHECK_EQ(s.voided_reads, 0);
    for (auto& k : s.conns) CHECK_EQ(k->bufs_after_reuse, 0);
    int readers = (s.conns[0]->reads > 0) + (s.conns[1]->reads > 0);
    CHECK_EQ(readers, 1);
    sock_close(a);
    sock_close(c);
  }
}

int main(int argc, char** argv) { return check::run(argc, argv); }
