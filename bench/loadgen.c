// Closed-loop TCP echo load generator for bench/echo.js.
//
// usage: loadgen [-t threads] [-w warmup_s] [-P server_pid]
//                host port conns size depth duration_s
//
// Each connection keeps `depth` messages of `size` bytes in flight; when the
// last byte of a message comes back, the next one is queued at once. Every
// echoed byte is checked against what was sent. Prints one JSON line.
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "cpu_clock.h"

// A prime period, so message boundaries drift across the pattern and a server
// that echoes the right bytes at the wrong offset is caught.
#define PATTERN_PERIOD 251
#define MAX_CHUNK (256 * 1024)
// Log-linear histogram of nanoseconds: 2^SUB_BITS buckets per power of two,
// i.e. about 3% relative error on a reported percentile.
#define SUB_BITS 5
#define SUB (1 << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS + 1) * SUB)

typedef struct {
  int fd, id, phase, out_armed;
  uint64_t queued, sent, recvd; // stream byte counts
  uint64_t done;                // messages fully echoed
  uint64_t *ts;                 // queue time of message m is ts[m % depth]
} conn_t;

typedef struct {
  conn_t **conns;
  int nconns;
  pthread_t tid;
  uint64_t msgs;
  double lat_sum_ns;
  uint64_t hist[NBUCKETS];
} worker_t;

static int g_size, g_depth;
static uint64_t t_measure, t_end; // CLOCK_MONOTONIC ns
static unsigned char *pattern;    // PATTERN_PERIOD + MAX_CHUNK bytes
static atomic_int failures;

// Only the first few failures are printed; one is enough to stop the run.
static void fail(const conn_t *c, const char *what) {
  if (atomic_fetch_add(&failures, 1) < 5)
    fprintf(stderr, "loadgen: conn %d: %s (sent %llu, received %llu bytes)\n", c->id, what,
            (unsigned long long)c->sent, (unsigned long long)c->recvd);
}

static int hist_index(uint64_t v) {
  if (v < SUB) return (int)v;
  int e = 63 - __builtin_clzll(v);
  return (e - SUB_BITS + 1) * SUB + (int)((v >> (e - SUB_BITS)) & (SUB - 1));
}

static double hist_value(int i) { // bucket midpoint
  if (i < SUB) return i;
  int e = i / SUB + SUB_BITS - 1;
  uint64_t lo = (uint64_t)(SUB + i % SUB) << (e - SUB_BITS);
  return (double)lo + (double)(1ull << (e - SUB_BITS)) / 2;
}

static double hist_percentile(const uint64_t *h, uint64_t total, double p) {
  if (!total) return 0;
  uint64_t rank = (uint64_t)(p * (double)total), seen = 0;
  if (rank >= total) rank = total - 1;
  for (int i = 0; i < NBUCKETS; i++)
    if ((seen += h[i]) > rank) return hist_value(i);
  return 0;
}

static const unsigned char *pattern_at(const conn_t *c, uint64_t off) {
  return pattern + (c->phase + off) % PATTERN_PERIOD;
}

static void conn_flush(conn_t *c, int ep) {
  while (c->sent < c->queued) {
    uint64_t len = c->queued - c->sent;
    if (len > MAX_CHUNK) len = MAX_CHUNK;
    ssize_t n = send(c->fd, pattern_at(c, c->sent), len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      fail(c, strerror(errno));
      return;
    }
    c->sent += (uint64_t)n;
  }
  int want_out = c->sent < c->queued;
  if (want_out != c->out_armed) {
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = want_out;
  }
}

static void conn_read(worker_t *w, conn_t *c, unsigned char *buf) {
  ssize_t n = read(c->fd, buf, MAX_CHUNK);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) fail(c, strerror(errno));
    return;
  }
  if (n == 0) return fail(c, "server closed the connection");
  if (c->recvd + (uint64_t)n > c->sent) return fail(c, "received more bytes than were sent");
  if (memcmp(buf, pattern_at(c, c->recvd), (size_t)n) != 0)
    return fail(c, "echoed bytes differ from the bytes sent");
  c->recvd += (uint64_t)n;

  uint64_t now = now_ns();
  int measuring = now >= t_measure && now < t_end;
  while (c->recvd >= (c->done + 1) * (uint64_t)g_size) {
    uint64_t *slot = &c->ts[c->done % (uint64_t)g_depth];
    if (measuring) {
      uint64_t lat = now - *slot;
      w->msgs++;
      w->lat_sum_ns += (double)lat;
      w->hist[hist_index(lat)]++;
    }
    // The freed slot belongs to message done + depth, queued now.
    *slot = now;
    c->done++;
    c->queued += (uint64_t)g_size;
  }
}

static void *worker_run(void *arg) {
  worker_t *w = arg;
  int ep = epoll_create1(0);
  unsigned char *buf = malloc(MAX_CHUNK);
  struct epoll_event evs[256];
  if (ep < 0 || !buf) {
    perror("loadgen: worker setup");
    atomic_fetch_add(&failures, 1);
    return NULL;
  }
  uint64_t start = now_ns();
  for (int i = 0; i < w->nconns; i++) {
    conn_t *c = w->conns[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    for (int m = 0; m < g_depth; m++) c->ts[m] = start;
    c->queued = (uint64_t)g_size * (uint64_t)g_depth;
    conn_flush(c, ep);
  }
  for (;;) {
    uint64_t now = now_ns();
    if (now >= t_end || atomic_load(&failures)) break;
    uint64_t wait_ms = (t_end - now) / 1000000 + 1;
    int n = epoll_wait(ep, evs, 256, wait_ms > 100 ? 100 : (int)wait_ms);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_read(w, c, buf);
      conn_flush(c, ep);
    }
  }
  free(buf);
  close(ep);
  return NULL;
}

// Busy and interrupt time of all CPUs, in microseconds. Loopback TCP does much
// of its work in softirq context, which is not charged to any process; what is
// left after subtracting that, the server and ourselves is other load that
// makes a run noisy.
static int machine_cpu_us(double *busy, double *irq) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                 &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 7) return -1;
  double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
  *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * tick_us; // all but idle and iowait
  *irq = (double)(v[5] + v[6]) * tick_us;
  return 0;
}

static void sleep_until(uint64_t t) {
  while (!atomic_load(&failures)) {
    uint64_t now = now_ns();
    if (now >= t) return;
    uint64_t step = t - now < 50000000 ? t - now : 50000000;
    struct timespec ts = {0, (long)step};
    nanosleep(&ts, NULL);
  }
}

static int connect_to(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
  if (fd < 0) return -1;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen [-t threads] [-w warmup_s] [-P server_pid] "
                  "host port conns size depth duration_s\n");
  exit(2);
}

int main(int argc, char **argv) {
  int threads = 1, server_pid = 0, opt;
  double warmup = 1;
  while ((opt = getopt(argc, argv, "t:w:P:")) != -1) {
    if (opt == 't') threads = atoi(optarg);
    else if (opt == 'w') warmup = atof(optarg);
    else if (opt == 'P') server_pid = atoi(optarg);
    else usage();
  }
  if (argc - optind != 6) usage();
  const char *host = argv[optind], *port = argv[optind + 1];
  int nconns = atoi(argv[optind + 2]);
  g_size = atoi(argv[optind + 3]);
  g_depth = atoi(argv[optind + 4]);
  double duration = atof(argv[optind + 5]);
  if (nconns < 1 || g_size < 1 || g_depth < 1 || duration <= 0 || warmup < 0 || threads < 1) usage();
  if (threads > nconns) threads = nconns;

  // Never outlive the orchestrator, even if it is killed.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);

  pattern = malloc(PATTERN_PERIOD + MAX_CHUNK);
  for (int i = 0; i < PATTERN_PERIOD + MAX_CHUNK; i++) pattern[i] = (unsigned char)(i % PATTERN_PERIOD);

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc) {
    fprintf(stderr, "loadgen: %s:%s: %s\n", host, port, gai_strerror(rc));
    return 1;
  }
  conn_t *conns = calloc((size_t)nconns, sizeof *conns);
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    c->id = i;
    c->phase = (i * 37) % PATTERN_PERIOD;
    c->ts = calloc((size_t)g_depth, sizeof *c->ts);
    if ((c->fd = connect_to(ai)) < 0) {
      fprintf(stderr, "loadgen: connect %s:%s (connection %d): %s\n", host, port, i, strerror(errno));
      return 1;
    }
  }
  freeaddrinfo(ai);

  worker_t *workers = calloc((size_t)threads, sizeof *workers);
  for (int t = 0; t < threads; t++) {
    workers[t].conns = calloc((size_t)nconns / threads + 1, sizeof(conn_t *));
    for (int i = t; i < nconns; i += threads) workers[t].conns[workers[t].nconns++] = &conns[i];
  }
  t_measure = now_ns() + (uint64_t)(warmup * 1e9);
  t_end = t_measure + (uint64_t)(duration * 1e9);
  for (int t = 0; t < threads; t++) pthread_create(&workers[t].tid, NULL, worker_run, &workers[t]);

  // The server's CPU is sampled right at the window edges, so warmup and
  // connection setup are not charged to the requests counted.
  sleep_until(t_measure);
  double busy0 = 0, irq0 = 0, busy1 = 0, irq1 = 0;
  int have_machine = machine_cpu_us(&busy0, &irq0) == 0;
  double usr0 = 0, usr1 = 0;
  double srv0 = server_pid ? proc_cpu_split_us(server_pid, &usr0) : -1, self0 = self_cpu_us();
  uint64_t m0 = now_ns();
  sleep_until(t_end);
  double srv1 = server_pid ? proc_cpu_split_us(server_pid, &usr1) : -1, self1 = self_cpu_us();
  have_machine = have_machine && machine_cpu_us(&busy1, &irq1) == 0;
  uint64_t m1 = now_ns();
  for (int t = 0; t < threads; t++) pthread_join(workers[t].tid, NULL);
  if (m1 > t_end) m1 = t_end;

  uint64_t msgs = 0, hist[NBUCKETS] = {0};
  double lat_sum = 0;
  for (int t = 0; t < threads; t++) {
    msgs += workers[t].msgs;
    lat_sum += workers[t].lat_sum_ns;
    for (int i = 0; i < NBUCKETS; i++) hist[i] += workers[t].hist[i];
  }
  double secs = m1 > m0 ? (double)(m1 - m0) / 1e9 : 0;
  int errors = atomic_load(&failures);
  double srv_us = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
  double irq_us = have_machine ? irq1 - irq0 : 0;
  double other_us = have_machine ? (busy1 - busy0) - irq_us - (self1 - self0) - (srv_us > 0 ? srv_us : 0) : 0;
  printf("{\"qps\":%.1f,\"msgs\":%llu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
         "\"mean_us\":%.2f,\"errors\":%d,\"seconds\":%.3f,\"conns\":%d,\"size\":%d,\"depth\":%d,"
         "\"server_cpu_us\":%.0f,\"server_user_us\":%.0f,\"client_cpu_pct\":%.1f,\"softirq_cpu_pct\":%.1f,\"other_cpu_pct\":%.1f}\n",
         secs > 0 ? (double)msgs / secs : 0, (unsigned long long)msgs,
         hist_percentile(hist, msgs, 0.50) / 1e3, hist_percentile(hist, msgs, 0.99) / 1e3,
         hist_percentile(hist, msgs, 0.999) / 1e3, msgs ? lat_sum / (double)msgs / 1e3 : 0, errors,
         secs, nconns, g_size, g_depth, srv_us, srv_us >= 0 ? usr1 - usr0 : -1, secs > 0 ? (self1 - self0) / 1e4 / secs : 0,
         secs > 0 ? irq_us / 1e4 / secs : 0, secs > 0 && other_us > 0 ? other_us / 1e4 / secs : 0);
  return errors ? 1 : 0;
}
