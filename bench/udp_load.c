// UDP echo load generator for bench/udp.js: `flows` sockets (one source port
// each, so SO_REUSEPORT servers can spread them), each keeping `depth` datagrams
// of `size` bytes in flight (closed loop: a reply lets the next one go), batched
// with recvmmsg / sendmmsg. A flow that gets no reply for 50 ms counts what it had
// in flight as lost and starts over (UDP may drop; a lost datagram must not stall it).
// usage: udp_load [-w warmup_s] [-P server_pid] host port flows size depth duration_s
// prints one JSON line: dps (echoed datagrams/s), lost, server CPU, client CPU.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpu_clock.h"

#define BATCH 64
#define MAXSIZE 65507

struct flow {
  int fd;
  int inflight;
  uint64_t last_reply_ns;
};

static char sbuf[MAXSIZE];
static char rbuf[BATCH][2048];

// Send n datagrams on f (connected socket) with sendmmsg; returns how many went.
static int send_n(struct flow *f, int size, int n) {
  struct mmsghdr h[BATCH];
  struct iovec v[BATCH];
  int sent = 0;
  while (n > 0) {
    int k = n < BATCH ? n : BATCH;
    for (int i = 0; i < k; i++) {
      v[i].iov_base = sbuf;
      v[i].iov_len = (size_t)size;
      memset(&h[i], 0, sizeof h[i]);
      h[i].msg_hdr.msg_iov = &v[i];
      h[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(f->fd, h, (unsigned)k, MSG_DONTWAIT);
    if (r <= 0) break;
    sent += r;
    n -= r;
  }
  f->inflight += sent;
  return sent;
}

int main(int argc, char **argv) {
  double warmup = 1;
  int server_pid = 0, opt;
  while ((opt = getopt(argc, argv, "w:P:")) != -1) {
    if (opt == 'w') warmup = atof(optarg);
    else if (opt == 'P') server_pid = atoi(optarg);
    else return 2;
  }
  if (argc - optind != 6) {
    fprintf(stderr, "usage: udp_load [-w warmup_s] [-P server_pid] host port flows size depth duration_s\n");
    return 2;
  }
  const char *host = argv[optind];
  int port = atoi(argv[optind + 1]), nflows = atoi(argv[optind + 2]), size = atoi(argv[optind + 3]);
  int depth = atoi(argv[optind + 4]);
  double duration = atof(argv[optind + 5]);
  if (nflows < 1 || size < 1 || size > 2048 || depth < 1) {
    fprintf(stderr, "udp_load: flows >= 1, size 1..2048, depth >= 1\n");
    return 2;
  }
  memset(sbuf, 'u', sizeof sbuf);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
  if (fam == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, host, &s6->sin6_addr);
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &s4->sin_addr);
    sl = sizeof *s4;
  }
  int ep = epoll_create1(0);
  struct flow *flows = calloc((size_t)nflows, sizeof *flows);
  for (int i = 0; i < nflows; i++) {
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK, 0), big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
      perror("udp_load: socket/connect");
      return 1;
    }
    flows[i].fd = fd;
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  uint64_t t0 = now_ns(), start = t0 + (uint64_t)(warmup * 1e9), end = start + (uint64_t)(duration * 1e9);
  for (int i = 0; i < nflows; i++) {
    send_n(&flows[i], size, depth);
    flows[i].last_reply_ns = t0;
  }
  unsigned long long got = 0, lost = 0, refused = 0;
  int measuring = 0;
  double srv0 = 0, self0 = 0;
  struct mmsghdr h[BATCH];
  struct iovec v[BATCH];
  struct epoll_event evs[256];
  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= start) {
      measuring = 1;
      got = lost = 0;
      srv0 = server_pid ? proc_cpu_us(server_pid) : -1;
      self0 = self_cpu_us();
      start = now;
    }
    if (now >= end) break;
    int n = epoll_wait(ep, evs, 256, 5);
    now = now_ns();
    for (int k = 0; k < n; k++) {
      struct flow *f = &flows[evs[k].data.u32];
      for (;;) {
        for (int i = 0; i < BATCH; i++) {
          v[i].iov_base = rbuf[i];
          v[i].iov_len = sizeof rbuf[i];
          memset(&h[i], 0, sizeof h[i]);
          h[i].msg_hdr.msg_iov = &v[i];
          h[i].msg_hdr.msg_iovlen = 1;
        }
        int r = recvmmsg(f->fd, h, BATCH, MSG_DONTWAIT, NULL);
        if (r < 0 && errno == ECONNREFUSED) {
          refused++;
          continue;
        }
        if (r <= 0) break;
        got += (unsigned long long)r;
        f->inflight -= r;
        if (f->inflight < 0) f->inflight = 0;  // a late reply after a loss was counted
        f->last_reply_ns = now;
        send_n(f, size, depth - f->inflight);
        if (r < BATCH) break;
      }
    }
    for (int i = 0; i < nflows; i++) {  // a flow whose datagrams were dropped
      struct flow *f = &flows[i];
      if (now - f->last_reply_ns > 50000000ull) {
        lost += (unsigned long long)f->inflight;
        f->inflight = 0;
        f->last_reply_ns = now;
        send_n(f, size, depth);
      }
    }
  }
  double secs = (double)(now_ns() - start) / 1e9;
  double srv1 = server_pid ? proc_cpu_us(server_pid) : -1, self1 = self_cpu_us();
  double srv_us = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
  printf("{\"dps\":%.1f,\"datagrams\":%llu,\"lost\":%llu,\"refused\":%llu,\"server_cpu_us\":%.0f,"
         "\"cpu_us_per_dgram\":%.3f,\"server_cpu_pct\":%.1f,\"client_cpu_pct\":%.1f}\n",
         (double)got / secs, got, lost, refused, srv_us, got && srv_us >= 0 ? srv_us / (double)got : -1,
         srv_us >= 0 ? srv_us / (secs * 1e4) : -1, (self1 - self0) / (secs * 1e4));
  return 0;
}
