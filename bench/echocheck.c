// echocheck: a checksummed echo client for fault and memory runs (not a load
// generator). Each of --conns connections sends --mib MiB of a seeded byte stream
// and checks every echoed byte against it. With --pause-ms P it is a slow reader:
// for the first P ms it only sends (as much as the server takes) and reads
// nothing, then it reads everything back.
//
//   echocheck HOST PORT [--conns N] [--mib M] [--pause-ms P] [--seed S] [--timeout-s T]
//
// Prints one JSON line: {"conns","sent","received","mismatches","errors","ms","seed"}.
// Exit status 0 only when every connection got back exactly what it sent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  uint64_t sent, received;
  uint64_t tx_state, rx_state;  // xorshift64 states: the stream is a function of (seed, conn)
  uint64_t tx_word, rx_word;
  int tx_left, rx_left;         // bytes left of the current word
  int failed;
} conn_t;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t xs(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static uint8_t next_byte(uint64_t* state, uint64_t* word, int* left) {
  if (*left == 0) {
    *word = xs(state);
    *left = 8;
  }
  uint8_t b = (uint8_t)(*word & 0xff);
  *word >>= 8;
  (*left)--;
  return b;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: echocheck HOST PORT [--conns N] [--mib M] [--pause-ms P] [--seed S] [--timeout-s T]\n");
    return 2;
  }
  const char* host = argv[1];
  int port = atoi(argv[2]);
  int nconns = 1, pause_ms = 0, timeout_s = 60;
  double mib = 16;
  uint64_t seed = (uint64_t)time(NULL);
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--conns")) nconns = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--mib")) mib = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--pause-ms")) pause_ms = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--timeout-s")) timeout_s = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "echocheck: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (nconns < 1 || nconns > 1024) nconns = 1;
  uint64_t total = (uint64_t)(mib * 1024 * 1024);
  conn_t* cs = calloc((size_t)nconns, sizeof(conn_t));
  struct pollfd* pfd = calloc((size_t)nconns, sizeof(struct pollfd));
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (strchr(host, ':')) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, host, &a->sin6_addr);
    sl = sizeof *a;
  } else {
    struct sockaddr_in* a = (struct sockaddr_in*)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a->sin_addr);
    sl = sizeof *a;
  }
  int errors = 0;
  for (int i = 0; i < nconns; i++) {
    conn_t* c = &cs[i];
    c->tx_state = c->rx_state = seed * 2654435761u + (uint64_t)i * 0x9E3779B97F4A7C15ull + 1;
    c->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr*)&ss, sl) < 0) {
      fprintf(stderr, "echocheck: connect %s:%d: %s\n", host, port, strerror(errno));
      c->failed = 1;
      errors++;
      continue;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  }
  uint8_t buf[64 * 1024];
  uint64_t start = now_ms(), deadline = start + (uint64_t)timeout_s * 1000;
  uint64_t mismatches = 0;
  for (;;) {
    uint64_t t = now_ms();
    int reading = t - start >= (uint64_t)pause_ms;
    int open = 0;
    for (int i = 0; i < nconns; i++) {
      conn_t* c = &cs[i];
      pfd[i].fd = -1;
      pfd[i].events = 0;
      if (c->failed || c->received >= total) continue;
      open++;
      pfd[i].fd = c->fd;
      if (c->sent < total) pfd[i].events |= POLLOUT;
      if (reading) pfd[i].events |= POLLIN;
    }
    if (open == 0 || t > deadline) break;
    int wait = reading ? 100 : (int)((uint64_t)pause_ms - (t - start));
    if (wait > 100) wait = 100;
    if (poll(pfd, (nfds_t)nconns, wait) < 0 && errno != EINTR) break;
    for (int i = 0; i < nconns; i++) {
      conn_t* c = &cs[i];
      if (pfd[i].fd < 0 || !pfd[i].revents) continue;
      if ((pfd[i].revents & POLLOUT) && c->sent < total) {
        size_t n = total - c->sent < sizeof buf ? (size_t)(total - c->sent) : sizeof buf;
        // The next n bytes of the stream; what the socket does not take is made again.
        uint64_t st = c->tx_state, w = c->tx_word;
        int left = c->tx_left;
        for (size_t k = 0; k < n; k++) buf[k] = next_byte(&st, &w, &left);
        ssize_t m = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (m > 0) {
          for (ssize_t k = 0; k < m; k++) next_byte(&c->tx_state, &c->tx_word, &c->tx_left);
          c->sent += (uint64_t)m;
        } else if (m < 0 && errno != EAGAIN && errno != EINTR) {
          fprintf(stderr, "echocheck: conn %d send: %s\n", i, strerror(errno));
          c->failed = 1;
          errors++;
          continue;
        }
      }
      if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t m = recv(c->fd, buf, sizeof buf, 0);
        if (m > 0) {
          for (ssize_t k = 0; k < m; k++)
            if (buf[k] != next_byte(&c->rx_state, &c->rx_word, &c->rx_left)) mismatches++;
          c->received += (uint64_t)m;
        } else if (m == 0 || (errno != EAGAIN && errno != EINTR)) {
          fprintf(stderr, "echocheck: conn %d: %s after %llu of %llu bytes back\n", i, m == 0 ? "EOF" : strerror(errno),
                  (unsigned long long)c->received, (unsigned long long)total);
          c->failed = 1;
          errors++;
        }
      }
    }
  }
  uint64_t sent = 0, received = 0;
  int short_conns = 0;
  for (int i = 0; i < nconns; i++) {
    sent += cs[i].sent;
    received += cs[i].received;
    if (!cs[i].failed && cs[i].received < total) short_conns++;
    if (cs[i].fd >= 0) close(cs[i].fd);
  }
  if (short_conns) fprintf(stderr, "echocheck: %d connection(s) timed out after %d s\n", short_conns, timeout_s);
  printf("{\"conns\":%d,\"sent\":%llu,\"received\":%llu,\"mismatches\":%llu,\"errors\":%d,\"timedOut\":%d,\"ms\":%llu,\"seed\":%llu}\n", nconns,
         (unsigned long long)sent, (unsigned long long)received, (unsigned long long)mismatches, errors, short_conns,
         (unsigned long long)(now_ms() - start), (unsigned long long)seed);
  free(cs);
  free(pfd);
  return errors == 0 && short_conns == 0 && mismatches == 0 && sent == received && sent == total * (uint64_t)nconns ? 0 : 1;
}
