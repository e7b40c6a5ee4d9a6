// The kqueue semantics the kqueue backend relies on, checked against the emulation
// (test/native/kqueue_emu). Written against <sys/event.h> and POSIX sockets only,
// so the same file can run on macOS or FreeBSD against the real kernel, which is
// how the emulation itself would be checked there.
#include <sys/event.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "check.h"
#include "sys/sock.h"

namespace {

// A connected loopback TCP pair: a is the "server" end the tests watch.
struct tcp_pair {
  int a = -1, b = -1;
  tcp_pair() {
    rn::addr at;
    CHECK_EQ(rn::sock_parse("127.0.0.1", 0, &at), 0);
    const char* failed = nullptr;
    int l = rn::sock_listen(at, rn::listen_opts(), &failed);
    CHECK(l >= 0);
    rn::addr bound;
    CHECK_EQ(rn::sock_local(l, &bound), 0);
    b = rn::sock_connect(bound);
    CHECK(b >= 0);
    for (int i = 0; i < 1000 && a < 0; i++) {
      a = rn::sock_accept(l);
      if (a < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(a >= 0);
    close(l);
  }
  ~tcp_pair() {
    if (a >= 0) close(a);
    if (b >= 0) close(b);
  }
  void send_b(const char* s) { CHECK_EQ(write(b, s, strlen(s)), static_cast<ssize_t>(strlen(s))); }
};

struct kq {
  int fd = kqueue();
  kq() { CHECK(fd >= 0); }
  ~kq() { close(fd); }
  // One change; returns its receipt's errno (EV_RECEIPT is added).
  long change(uintptr_t ident, int16_t filter, uint16_t flags, uint32_t fflags = 0, void* udata = nullptr) {
    struct kevent c, r;
    EV_SET(&c, ident, filter, flags | EV_RECEIPT, fflags, 0, udata);
    const timespec zero{0, 0};
    CHECK_EQ(kevent(fd, &c, 1, &r, 1, &zero), 1);
    CHECK(r.flags & EV_ERROR);
    return static_cast<long>(r.data);
  }
  std::vector<struct kevent> wait(int ms) {
    struct kevent ev[16];
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    int n = kevent(fd, nullptr, 0, ev, 16, &ts);
    CHECK(n >= 0);
    return std::vector<struct kevent>(ev, ev + n);
  }
};

// The peer's bytes have reached a: wait until a poll says so.
void arrived(int fd) {
  pollfd p{fd, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 2000), 1);
}

}  // namespace

TEST(level_read_reports_until_drained) {
  tcp_pair p;
  kq k;
  int tag = 0;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD, 0, &tag), 0);
  CHECK(k.wait(0).empty());
  p.send_b("0123456789");
  arrived(p.a);
  for (int round = 0; round < 2; round++) {  // level: reported again while unread
    auto ev = k.wait(1000);
    CHECK_EQ(ev.size(), 1u);
    CHECK_EQ(ev[0].ident, static_cast<uintptr_t>(p.a));
    CHECK_EQ(ev[0].filter, EVFILT_READ);
    CHECK_EQ(ev[0].data, 10);
    CHECK(ev[0].udata == &tag);
    CHECK(!(ev[0].flags & EV_EOF));
  }
  char buf[16];
  CHECK_EQ(read(p.a, buf, sizeof(buf)), 10);
  CHECK(k.wait(0).empty());
}

TEST(clear_reports_each_change_once) {
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  p.send_b("abc");
  arrived(p.a);
  CHECK_EQ(k.wait(1000).size(), 1u);
  CHECK(k.wait(20).empty());  // unread, but nothing changed
  p.send_b("def");
  auto ev = k.wait(1000);
  CHECK_EQ(ev.size(), 1u);
  CHECK_EQ(ev[0].data, 6);
}

TEST(ev_add_on_a_clear_knote_rearms_it) {
  // The backend's re-arm after a read that filled its buffer: EV_ADD again makes the
  // kernel look, and bytes still waiting are reported without any new arrival.
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  p.send_b("0123456789");
  arrived(p.a);
  CHECK_EQ(k.wait(1000).size(), 1u);
  char buf[4];
  CHECK_EQ(read(p.a, buf, sizeof(buf)), 4);  // partial read
  CHECK(k.wait(0).empty());
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  auto ev = k.wait(0);
  CHECK_EQ(ev.size(), 1u);
  CHECK_EQ(ev[0].data, 6);
}

TEST(peer_fin_is_eof_without_error) {
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  p.send_b("bye");
  shutdown(p.b, SHUT_WR);
  std::vector<struct kevent> ev;
  for (int i = 0; i < 100 && !(ev.size() == 1 && (ev[0].flags & EV_EOF)); i++) ev = k.wait(20);
  CHECK_EQ(ev.size(), 1u);
  CHECK(ev[0].flags & EV_EOF);
  CHECK_EQ(ev[0].fflags, 0u);
  CHECK_EQ(ev[0].data, 3);  // the bytes before the FIN are still there to read
}

TEST(peer_reset_is_eof_with_the_error_in_fflags) {
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  CHECK_EQ(rn::sock_set_linger0(p.b), 0);
  close(p.b);
  p.b = -1;
  std::vector<struct kevent> ev;
  for (int i = 0; i < 100 && ev.empty(); i++) ev = k.wait(20);
  CHECK_EQ(ev.size(), 1u);
  CHECK(ev[0].flags & EV_EOF);
  CHECK_EQ(ev[0].fflags, static_cast<uint32_t>(ECONNRESET));
  CHECK_EQ(rn::sock_error(p.a), -ECONNRESET);  // still pending for SO_ERROR, as on BSD
  CHECK_EQ(rn::sock_error(p.a), 0);
}

TEST(receipts_and_errors) {
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_WRITE, EV_DELETE), ENOENT);
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ENABLE), ENOENT);
  CHECK_EQ(k.change(100000, EVFILT_READ, EV_ADD), EBADF);
  CHECK_EQ(k.change(p.a, 77, EV_ADD), EINVAL);
  // Without EV_RECEIPT: an error takes a record if there is room, else fails the call.
  struct kevent c, r;
  EV_SET(&c, p.a, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
  const timespec zero{0, 0};
  CHECK_EQ(kevent(k.fd, &c, 1, &r, 1, &zero), 1);
  CHECK(r.flags & EV_ERROR);
  CHECK_EQ(r.data, ENOENT);
  errno = 0;
  CHECK_EQ(kevent(k.fd, &c, 1, nullptr, 0, &zero), -1);
  CHECK_EQ(errno, ENOENT);
}

TEST(receipts_do_not_drain_pending_events) {
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  p.send_b("x");
  arrived(p.a);
  // A change with a receipt while the read is pending: only the receipt comes back.
  struct kevent c, out[4];
  EV_SET(&c, p.a, EVFILT_WRITE, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, nullptr);
  const timespec zero{0, 0};
  CHECK_EQ(kevent(k.fd, &c, 1, out, 4, &zero), 1);
  CHECK(out[0].flags & EV_ERROR);
  auto ev = k.wait(0);
  CHECK_EQ(ev.size(), 2u);  // then the read, and the new write knote (writable)
  CHECK_EQ(ev[0].filter, EVFILT_READ);
  CHECK_EQ(ev[1].filter, EVFILT_WRITE);
}

TEST(user_event_wakes_a_waiter_on_another_thread) {
  kq k;
  int tag = 0;
  CHECK_EQ(k.change(1, EVFILT_USER, EV_ADD | EV_CLEAR, 0, &tag), 0);
  CHECK(k.wait(0).empty());
  auto t0 = std::chrono::steady_clock::now();
  std::thread trigger([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    struct kevent c;
    EV_SET(&c, 1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x5, 0, &tag);
    if (kevent(k.fd, &c, 1, nullptr, 0, nullptr) != 0) abort();
  });
  auto ev = k.wait(5000);
  trigger.join();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4));
  CHECK_EQ(ev.size(), 1u);
  CHECK_EQ(ev[0].filter, EVFILT_USER);
  CHECK(ev[0].udata == &tag);
  CHECK_EQ(ev[0].fflags, 0x5u);
  CHECK(k.wait(0).empty());  // EV_CLEAR: retrieving it reset the trigger
}

TEST(disable_holds_events_and_enable_reevaluates) {
  tcp_pair p;
  kq k;
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD | EV_CLEAR | EV_DISABLE), 0);
  p.send_b("x");
  arrived(p.a);
  CHECK(k.wait(20).empty());
  CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ENABLE), 0);
  CHECK_EQ(k.wait(0).size(), 1u);
}

TEST(write_filter_fires_again_when_space_returns) {
  tcp_pair p;
  kq k;
  CHECK_EQ(rn::sock_set_bufsize(p.a, true, 16384), 0);
  CHECK_EQ(k.change(p.a, EVFILT_WRITE, EV_ADD | EV_CLEAR), 0);
  auto ev = k.wait(0);
  CHECK_EQ(ev.size(), 1u);
  CHECK(ev[0].data > 0);
  std::vector<char> chunk(65536, 'z');
  while (write(p.a, chunk.data(), chunk.size()) > 0) {
  }
  CHECK_EQ(errno, EAGAIN);
  k.wait(0);  // whatever was pending before the buffer filled
  CHECK(k.wait(20).empty());
  std::vector<char> sink(1 << 20);
  for (int i = 0; i < 200 && ev.empty(); i++) {
    ssize_t n = read(p.b, sink.data(), sink.size());
    (void)n;
    ev = k.wait(10);
  }
  ev = ev.empty() ? k.wait(1000) : ev;
  CHECK_EQ(ev.size(), 1u);
  CHECK_EQ(ev[0].filter, EVFILT_WRITE);
}

TEST(closing_an_fd_removes_its_knotes) {
  kq k;
  int fd;
  {
    tcp_pair p;
    CHECK_EQ(k.change(p.a, EVFILT_READ, EV_ADD), 0);
    fd = p.a;
  }
  tcp_pair q;  // likely reuses the number; either way the old knote is gone
  CHECK_EQ(k.change(fd, EVFILT_READ, EV_DELETE), ENOENT);
}

TEST(events_come_in_activation_order_and_the_kqueue_fd_polls_readable) {
  tcp_pair p1, p2;
  kq k;
  CHECK_EQ(k.change(1, EVFILT_USER, EV_ADD | EV_CLEAR), 0);
  CHECK_EQ(k.change(p1.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  CHECK_EQ(k.change(p2.a, EVFILT_READ, EV_ADD | EV_CLEAR), 0);
  pollfd pk{k.fd, POLLIN, 0};
  CHECK_EQ(poll(&pk, 1, 0), 0);
  CHECK_EQ(k.change(1, EVFILT_USER, 0, NOTE_TRIGGER), 0);
  p2.send_b("2");
  arrived(p2.a);
  p1.send_b("1");
  arrived(p1.a);
  CHECK_EQ(poll(&pk, 1, 1000), 1);
  auto ev = k.wait(0);
  CHECK_EQ(ev.size(), 3u);
  CHECK_EQ(ev[0].filter, EVFILT_USER);
  CHECK_EQ(ev[1].ident, static_cast<uintptr_t>(p2.a));
  CHECK_EQ(ev[2].ident, static_cast<uintptr_t>(p1.a));
  CHECK_EQ(poll(&pk, 1, 0), 0);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
