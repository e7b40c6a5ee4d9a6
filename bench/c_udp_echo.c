// Minimal single-threaded UDP echo server: the "C floor" row of bench/udp.js.
// epoll for readiness, then recvmmsg a batch and sendmmsg it back to the senders.
// usage: c_udp_echo [port]   (0 = ephemeral; prints "listening on udp://127.0.0.1:PORT")
#define _GNU_SOURCE
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define SLOT 2048

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int port = argc > 1 ? atoi(argv[1]) : 0, big = 4 << 20;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("bind");
    return 1;
  }
  getsockname(fd, (struct sockaddr *)&a, &al);
  printf("listening on udp://127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  static char bufs[BATCH][SLOT];
  struct mmsghdr h[BATCH];
  struct iovec v[BATCH];
  struct sockaddr_storage names[BATCH];
  for (;;) {
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, -1) < 0) continue;
    for (;;) {
      for (int i = 0; i < BATCH; i++) {
        v[i].iov_base = bufs[i];
        v[i].iov_len = SLOT;
        memset(&h[i], 0, sizeof h[i]);
        h[i].msg_hdr.msg_name = &names[i];
        h[i].msg_hdr.msg_namelen = sizeof names[i];
        h[i].msg_hdr.msg_iov = &v[i];
        h[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd, h, BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0) break;
      for (int i = 0; i < n; i++) v[i].iov_len = h[i].msg_len;  // echo what came, to whom it came from
      int off = 0;
      while (off < n) {
        int r = sendmmsg(fd, h + off, (unsigned)(n - off), 0);
        if (r <= 0) break;
        off += r;
      }
      if (n < BATCH) break;
    }
  }
}
