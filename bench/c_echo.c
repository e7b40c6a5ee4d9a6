// Minimal single-threaded epoll echo server: the "C floor" row of bench/echo.js.
// usage: c_echo [port]   (0 = ephemeral; the real port is printed)
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

// Blocks on a full socket buffer instead of queueing the rest: the benchmark
// client is closed-loop and always reading, so the wait is short, and it keeps
// this server free of per-connection state.
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, -1);
    } else if (!(w < 0 && errno == EINTR)) {
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  static char buf[65536];
  struct epoll_event ev, evs[256];
  int one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof addr;

  prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the orchestrator
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, SOMAXCONN) < 0 ||
      getsockname(ls, (struct sockaddr *)&addr, &alen) < 0) {
    perror("c_echo: bind/listen");
    return 1;
  }
  printf("listening on tcp://127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(0);
  ev = (struct epoll_event){.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd, c;
      if (fd == ls) {
        while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ev = (struct epoll_event){.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0 || write_all(fd, buf, (size_t)r) < 0) close(fd); // close also leaves the epoll set
    }
  }
}
