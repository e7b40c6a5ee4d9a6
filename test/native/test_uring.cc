// The io_uring completion engine on its own (io/io_uring.h) and the probe in front of
// it (sys/uring_probe.h): multishot accept, multishot recv into provided buffers,
// buffer exhaustion, partial sends, cancel, the wake poll, and the probe's answers
// when io_uring is turned off (environment switch, seccomp filter in a child).
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "rn.h"
#include "sys/sock.h"
#include "sys/uring_probe.h"

#ifdef RINGNET_HAVE_IO_URING
#include <linux/io_uring.h>

#include "io/io_uring.h"
#endif

using namespace rn;

namespace {

// The probe's answer in a child whose seccomp filter makes io_uring_setup fail
// with `err` (what Docker's default profile does with EPERM).
[[maybe_unused]] int probe_under_seccomp(int err) {
  pid_t pid = fork();
  if (pid == 0) {
    sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(f) / sizeof(f[0])), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(100);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(101);
    uring_caps caps;
    const char* why = nullptr;
    int r = uring_probe(&caps, &why);
    _exit(r < 0 ? -r : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

}  // namespace

#ifndef RINGNET_HAVE_IO_URING

TEST(probe_says_built_without_liburing) {
  uring_caps caps;
  const char* why = nullptr;
  CHECK_EQ(uring_probe(&caps, &why), -ENOSYS);
  CHECK(std::string(why).find("without liburing") != std::string::npos || std::string(why).find("only on Linux") != std::string::npos);
}

#else

TEST(probe_env_switch_turns_it_off) {
  setenv("RINGNET_IO_URING_DISABLE", "1", 1);
  uring_caps caps;
  const char* why = nullptr;
  CHECK_EQ(uring_probe(&caps, &why), -ENOSYS);
  CHECK(std::string(why).find("RINGNET_IO_URING_DISABLE") != std::string::npos);
  unsetenv("RINGNET_IO_URING_DISABLE");
}

TEST(probe_seccomp_eperm_and_enosys) {
  uring_caps caps;
  const char* why = nullptr;
  if (uring_probe(&caps, &why) == -EPERM && strstr(why, "io_uring_disabled = 2")) {
    fprintf(stderr, "skip: the sysctl refuses io_uring before io_uring_setup is tried\n");
    return;
  }
  CHECK_EQ(probe_under_seccomp(EPERM), EPERM);
  CHECK_EQ(probe_under_seccomp(ENOSYS), ENOSYS);
}

namespace {

bool uring_here() {
  uring_caps caps;
  const char* why = nullptr;
  int r = uring_probe(&caps, &why);
  if (r < 0) fprintf(stderr, "skip: io_uring unavailable here: %s\n", why);
  return r == 0;
}

struct engine {
  std::vector<uint8_t> mem;
  uring* u = nullptr;
  uring_caps caps;
  engine(uint32_t count, uint32_t size, bool inc = true) : mem(static_cast<size_t>(count) * size) {
    const char* why;
    CHECK_EQ(uring_probe(&caps, &why), 0);
    if (!inc) caps.buf_inc = false;
    uring_params p;
    p.entries = 64;
    p.bufs = mem.data();
    p.buf_size = size;
    p.buf_count = count;
    CHECK_EQ(uring_create(p, caps, &u), 0);
  }
  ~engine() { uring_destroy(u); }
  // Waits for and returns at least one completion (bounded: 5 s).
  std::vector<uring_event> next() {
    std::vector<uring_event> out(64);
    for (int i = 0; i < 50; i++) {
      int w = uring_wait(u, 100);
      CHECK(w == 0 || w == -ETIME);
      int n = uring_reap(u, out.data(), 64);
      if (n > 0) {
        out.resize(static_cast<size_t>(n));
        return out;
      }
    }
    CHECK_MSG(false, "no completion within 5 s");
    return {};
  }
};

// A connected TCP pair on loopback: [client, server side].
void tcp_pair(int* c, int* s) {
  addr a;
  CHECK_EQ(sock_parse("127.0.0.1", 0, &a), 0);
  const char* failed;
  int lfd = sock_listen(a, listen_opts{}, &failed);
  CHECK(lfd >= 0);
  addr bound;
  CHECK_EQ(sock_local(lfd, &bound), 0);
  *c = sock_connect(bound);
  CHECK(*c >= 0);
  pollfd p{lfd, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 5000), 1);
  *s = sock_accept(lfd);
  CHECK(*s >= 0);
  sock_close(lfd);
}

void write_all(int fd, const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EAGAIN) {
      pollfd q{fd, POLLOUT, 0};
      CHECK_EQ(poll(&q, 1, 5000), 1);
      continue;
    }
    CHECK(w > 0);
    b += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

TEST(probe_finds_the_features_of_this_kernel) {
  if (!uring_here()) return;
  uring_caps caps;
  const char* why;
  CHECK_EQ(uring_probe(&caps, &why), 0);
  CHECK(caps.accept_multishot);
  CHECK(caps.features & IORING_FEAT_NODROP);
  printf("     recv_multishot=%d buf_inc=%d features=%#x\n", caps.recv_multishot, caps.buf_inc, caps.features);
}

TEST(multishot_accept_reports_each_connection) {
  if (!uring_here()) return;
  engine e(4, 4096);
  addr a;
  CHECK_EQ(sock_parse("127.0.0.1", 0, &a), 0);
  const char* failed;
  int lfd = sock_listen(a, listen_opts{}, &failed);
  CHECK(lfd >= 0);
  addr bound;
  sock_local(lfd, &bound);
  CHECK_EQ(uring_accept(e.u, lfd, 7), 0);
  int clients[3];
  for (int& c : clients) c = sock_connect(bound);
  std::vector<int> got;
  while (got.size() < 3) {
    for (const uring_event& ev : e.next()) {
      CHECK_EQ(ev.ud, uint64_t{7});
      CHECK_MSG(ev.res >= 0, "accept: %s", errno_name(-ev.res));
      if (e.caps.accept_multishot) CHECK(ev.flags & URING_MORE);
      got.push_back(ev.res);
      if (!e.caps.accept_multishot) CHECK_EQ(uring_accept(e.u, lfd, 7), 0);
    }
  }
  for (int fd : got) {
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    sock_close(fd);
  }
  // Cancel ends the multishot request: its last completion has no MORE.
  CHECK_EQ(uring_cancel(e.u, 7, 8), 0);
  bool ended = false, cancelled = false;
  while (!ended || !cancelled) {
    for (const uring_event& ev : e.next()) {
      if (ev.ud == 7) ended = !(ev.flags & URING_MORE);
      if (ev.ud == 8) cancelled = ev.res >= 0;
    }
  }
  for (int c : clients) sock_close(c);
  sock_close(lfd);
}

TEST(recv_lands_in_provided_buffers_and_eof_ends_it) {
  if (!uring_here()) return;
  engine e(4, 4096);
  int c, s;
  tcp_pair(&c, &s);
  CHECK_EQ(uring_recv(e.u, s, 1), 0);
  std::string seen;
  for (int round = 0; round < 3; round++) {
    std::string msg = "hello " + std::to_string(round);
    write_all(c, msg.data(), msg.size());
    size_t want = seen.size() + msg.size();
    while (seen.size() < want) {
      for (const uring_event& ev : e.next()) {
        CHECK_EQ(ev.ud, uint64_t{1});
        CHECK_MSG(ev.res > 0, "recv: %d", ev.res);
        CHECK(ev.flags & URING_BUF);
        seen.append(reinterpret_cast<const char*>(ev.data), static_cast<size_t>(ev.res));
        if (!(ev.flags & URING_BUF_MORE)) uring_buf_return(e.u, ev.buf);
        if (!(ev.flags & URING_MORE)) CHECK_EQ(uring_recv(e.u, s, 1), 0);  // one-shot kernels
      }
    }
  }
  CHECK_EQ(seen, std::string("hello 0hello 1hello 2"));
  if (e.caps.buf_inc) CHECK(uring_bufs_free(e.u) >= 3);  // small reads share one buffer
  sock_shutdown_write(c);
  bool eof = false;
  while (!eof) {
    for (const uring_event& ev : e.next()) {
      CHECK_EQ(ev.res, 0);
      CHECK(!(ev.flags & URING_MORE));
      eof = true;
    }
  }
  sock_close(c);
  sock_close(s);
}

TEST(no_free_buffer_ends_the_recv_with_enobufs) {
  if (!uring_here()) return;
  engine e(2, 1024, /*inc=*/false);
  int c, s;
  tcp_pair(&c, &s);
  std::vector<uint8_t> big(64 * 1024);
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 7);
  write_all(c, big.data(), big.size());
  CHECK_EQ(uring_recv(e.u, s, 1), 0);
  std::vector<uint8_t> got;
  std::vector<uint16_t> held;
  int enobufs = 0;
  while (got.size() < big.size()) {
    for (const uring_event& ev : e.next()) {
      if (ev.res == -ENOBUFS) {
        enobufs++;
        CHECK(!(ev.flags & URING_MORE));
        CHECK_EQ(uring_bufs_free(e.u), 0u);
        for (uint16_t b : held) uring_buf_return(e.u, b);  // the host consumed them
        held.clear();
        CHECK_EQ(uring_recv(e.u, s, 1), 0);
        continue;
      }
      CHECK_MSG(ev.res > 0, "recv: %d", ev.res);
      CHECK(ev.flags & URING_BUF);
      got.insert(got.end(), ev.data, ev.data + ev.res);
      held.push_back(ev.buf);
      if (!(ev.flags & URING_MORE)) {
        for (uint16_t b : held) uring_buf_return(e.u, b);
        held.clear();
        CHECK_EQ(uring_recv(e.u, s, 1), 0);
      }
    }
  }
  CHECK(got == big);
  if (e.caps.recv_multishot) CHECK(enobufs > 0);
  sock_close(c);
  sock_close(s);
}

TEST(sendmsg_reports_partial_sends) {
  if (!uring_here()) return;
  engine e(2, 1024);
  int c, s;
  tcp_pair(&c, &s);
  CHECK_EQ(sock_set_bufsize(s, true, 4096), 0);
  std::vector<uint8_t> data(1024 * 1024);
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 13 + 1);
  size_t sent = 0, rcvd = 0;
  int sends = 0, timeouts = 0;
  bool in_flight = false;
  iovec iov;
  msghdr m{};
  std::vector<uint8_t> sink(256 * 1024);
  auto t0 = std::chrono::steady_clock::now();
  while (rcvd < data.size()) {
    CHECK_MSG(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20), "sent %zu rcvd %zu sends %d in_flight %d", sent, rcvd, sends, in_flight);
    if (!in_flight && sent < data.size()) {
      iov = {data.data() + sent, data.size() - sent};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      CHECK_EQ(uring_sendmsg(e.u, s, &m, 3), 0);
      CHECK(uring_submit(e.u) >= 0);
      in_flight = true;
      sends++;
    }
    uring_event ev[8];
    int n = uring_reap(e.u, ev, 8);
    for (int i = 0; i < n; i++) {
      CHECK_EQ(ev[i].ud, uint64_t{3});
      CHECK_MSG(ev[i].res > 0, "sendmsg: %d", ev[i].res);
      sent += static_cast<size_t>(ev[i].res);
      in_flight = false;
    }
    ssize_t r = read(c, sink.data(), sink.size());
    if (r > 0) {
      CHECK(memcmp(sink.data(), data.data() + rcvd, static_cast<size_t>(r)) == 0);
      rcvd += static_cast<size_t>(r);
    } else {
      CHECK(r < 0 && errno == EAGAIN);
      pollfd q[2] = {{c, POLLIN, 0}, {uring_fd(e.u), POLLIN, 0}};
      if (poll(q, 2, 100) == 0) timeouts++;
    }
  }
  CHECK_EQ(sent, data.size());
  printf("     %d sends, %d poll timeouts\n", sends, timeouts);
  CHECK_MSG(sends > 1, "one sendmsg took 1 MiB through a small socket buffer");
  sock_close(c);
  sock_close(s);
}

TEST(wake_poll_fires_each_time_and_ring_fd_is_pollable) {
  if (!uring_here()) return;
  engine e(2, 1024);
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(efd >= 0);
  CHECK_EQ(uring_poll_read(e.u, efd, 9), 0);
  CHECK(uring_submit(e.u) >= 0);
  for (int i = 0; i < 3; i++) {
    pollfd q{uring_fd(e.u), POLLIN, 0};
    CHECK_EQ(poll(&q, 1, 0), 0);  // nothing completed yet: the ring fd is quiet
    uint64_t one = 1;
    CHECK_EQ(write(efd, &one, 8), 8);
    CHECK_EQ(poll(&q, 1, 5000), 1);  // what a host loop (libuv's uv_poll) waits on
    uring_event ev[4];
    int n = uring_reap(e.u, ev, 4);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].ud, uint64_t{9});
    CHECK(ev[0].flags & URING_MORE);
    uint64_t v;
    CHECK_EQ(read(efd, &v, 8), 8);
  }
  close(efd);
}

TEST(full_submission_queue_is_submitted_not_refused) {
  if (!uring_here()) return;
  engine e(2, 1024);
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (int i = 0; i < 200; i++) CHECK_EQ(uring_poll_read(e.u, efd, 100 + i), 0);  // SQ holds 64
  CHECK(uring_submit(e.u) >= 0);
  uint64_t one = 1;
  CHECK_EQ(write(efd, &one, 8), 8);
  int seen = 0;
  while (seen < 200) seen += static_cast<int>(e.next().size());
  CHECK_EQ(seen, 200);
  close(efd);
}

#endif  // RINGNET_HAVE_IO_URING

int main(int argc, char** argv) { return check::run(argc, argv); }
