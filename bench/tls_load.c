// Closed-loop TLS echo load generator for bench/tls.js (C + OpenSSL, one thread,
// epoll, non-blocking sockets under SSL_set_fd).
//
// usage: tls_load [-w warmup_s] [-P server_pid] [-H] host port conns size duration_s
//
// Echo mode (default): each connection sends a message of `size` bytes, waits
// for all of it to come back (checked byte for byte), sends the next. The first
// connection makes a full handshake; every other one resumes its session, so
// handshakes do not dominate. -H (handshakes): each connection loops connect ->
// full handshake (no resumption) -> a 1-byte echo (the server has finished its
// side) -> close; a "request" is one such handshake. Prints one JSON line with
// the same fields as loadgen.c (qps, p50_us, server_cpu_us …).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
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

#include "cpu_clock.h"

#define PATTERN_PERIOD 251
#define SUB_BITS 5
#define SUB (1 << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS + 1) * SUB)

enum { ST_CONNECTING, ST_HANDSHAKE, ST_SEND, ST_RECV };

typedef struct {
  int fd, id, state, phase, events;
  SSL *ssl;
  size_t sent, recvd;  // of the current message
  uint64_t t0;         // when the current request started
} conn_t;

static int g_size, g_handshakes, g_errors, ep;
static uint64_t t_measure, t_end, msgs, hist[NBUCKETS];
static double lat_sum;
static unsigned char *pattern, *rbuf;
static SSL_CTX *ctx;
static SSL_SESSION *g_session;  // echo mode: the first connection's, resumed by the others
static struct addrinfo *g_ai;

static int hist_index(uint64_t v) {
  if (v < SUB) return (int)v;
  int e = 63 - __builtin_clzll(v);
  return (e - SUB_BITS + 1) * SUB + (int)((v >> (e - SUB_BITS)) & (SUB - 1));
}

static double hist_value(int i) {
  if (i < SUB) return i;
  int e = i / SUB + SUB_BITS - 1;
  uint64_t lo = (uint64_t)(SUB + i % SUB) << (e - SUB_BITS);
  return (double)lo + (double)(1ull << (e - SUB_BITS)) / 2;
}

static double hist_percentile(uint64_t total, double p) {
  if (!total) return 0;
  uint64_t rank = (uint64_t)(p * (double)total), seen = 0;
  if (rank >= total) rank = total - 1;
  for (int i = 0; i < NBUCKETS; i++)
    if ((seen += hist[i]) > rank) return hist_value(i);
  return 0;
}

static void fail(conn_t *c, const char *what) {
  if (g_errors++ < 5) {
    char e[256] = "";
    unsigned long code = ERR_get_error();
    if (code) ERR_error_string_n(code, e, sizeof e);
    fprintf(stderr, "tls_load: conn %d: %s %s\n", c->id, what, e);
  }
  ERR_clear_error();
}

static void want(conn_t *c, int events) {
  if (events == c->events) return;
  struct epoll_event ev = {.events = (uint32_t)events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

static int conn_open(conn_t *c) {
  int one = 1;
  c->fd = socket(g_ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, g_ai->ai_addr, g_ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    return -1;
  }
  c->ssl = SSL_new(ctx);
  SSL_set_fd(c->ssl, c->fd);
  SSL_set_connect_state(c->ssl);
  if (!g_handshakes && g_session) SSL_set_session(c->ssl, g_session);
  c->state = ST_CONNECTING;
  c->events = EPOLLOUT;
  c->t0 = now_ns();
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

static void conn_close(conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  SSL_free(c->ssl);
  close(c->fd);
  c->ssl = NULL;
  c->fd = -1;
}

static void count(uint64_t t0) {
  uint64_t now = now_ns();
  if (now >= t_measure && now < t_end) {
    msgs++;
    lat_sum += (double)(now - t0);
    hist[hist_index(now - t0)]++;
  }
}

// Returns 0 to keep going, 1 when blocked (epoll interest set), -1 on failure.
static int ssl_blocked(conn_t *c, int rc, const char *what) {
  int e = SSL_get_error(c->ssl, rc);
  if (e == SSL_ERROR_WANT_READ) {
    want(c, EPOLLIN);
    return 1;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    want(c, EPOLLOUT);
    return 1;
  }
  fail(c, what);
  return -1;
}

static void step(conn_t *c) {
  for (;;) {
    if (c->state == ST_CONNECTING) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) return fail(c, strerror(err));
      c->state = ST_HANDSHAKE;
    }
    if (c->state == ST_HANDSHAKE) {
      int rc = SSL_do_handshake(c->ssl);
      if (rc != 1) {
        if (ssl_blocked(c, rc, "handshake") != 0) return;
        continue;
      }
      c->state = ST_SEND;
      c->sent = c->recvd = 0;
      if (!g_handshakes) c->t0 = now_ns();
    }
    size_t size = g_handshakes ? 1 : (size_t)g_size;
    if (c->state == ST_SEND) {
      while (c->sent < size) {
        int rc = SSL_write(c->ssl, pattern + (c->phase + c->sent) % PATTERN_PERIOD, (int)(size - c->sent));
        if (rc <= 0) {
          if (ssl_blocked(c, rc, "write") != 0) return;
          continue;
        }
        c->sent += (size_t)rc;
      }
      c->state = ST_RECV;
    }
    if (c->state == ST_RECV) {
      while (c->recvd < size) {
        int rc = SSL_read(c->ssl, rbuf, (int)(size - c->recvd));
        if (rc <= 0) {
          if (SSL_get_error(c->ssl, rc) == SSL_ERROR_ZERO_RETURN) return fail(c, "server closed");
          if (ssl_blocked(c, rc, "read") != 0) return;
          continue;
        }
        if (memcmp(rbuf, pattern + (c->phase + c->recvd) % PATTERN_PERIOD, (size_t)rc) != 0)
          return fail(c, "echoed bytes differ");
        c->recvd += (size_t)rc;
      }
      count(c->t0);
      if (g_handshakes) {  // the next full handshake on a new connection
        conn_close(c);
        if (conn_open(c) < 0) fail(c, "reconnect");
        return;
      }
      c->phase = (c->phase + 7) % PATTERN_PERIOD;
      c->sent = c->recvd = 0;
      c->t0 = now_ns();
      c->state = ST_SEND;
    }
  }
}

static void usage(void) {
  fprintf(stderr, "usage: tls_load [-w warmup_s] [-P server_pid] [-H] host port conns size duration_s\n");
  exit(2);
}

int main(int argc, char **argv) {
  int server_pid = 0, opt;
  double warmup = 1;
  while ((opt = getopt(argc, argv, "w:P:H")) != -1) {
    if (opt == 'w') warmup = atof(optarg);
    else if (opt == 'P') server_pid = atoi(optarg);
    else if (opt == 'H') g_handshakes = 1;
    else usage();
  }
  if (argc - optind != 5) usage();
  const char *host = argv[optind], *port = argv[optind + 1];
  int nconns = atoi(argv[optind + 2]);
  g_size = atoi(argv[optind + 3]);
  double duration = atof(argv[optind + 4]);
  if (nconns < 1 || g_size < 1 || duration <= 0 || warmup < 0) usage();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);

  pattern = malloc(PATTERN_PERIOD + (size_t)g_size);
  rbuf = malloc((size_t)g_size + 16);
  for (int i = 0; i < PATTERN_PERIOD + g_size; i++) pattern[i] = (unsigned char)(i % PATTERN_PERIOD);
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = getaddrinfo(host, port, &hints, &g_ai);
  if (rc) {
    fprintf(stderr, "tls_load: %s:%s: %s\n", host, port, gai_strerror(rc));
    return 1;
  }
  ep = epoll_create1(0);
  conn_t *conns = calloc((size_t)nconns, sizeof *conns);
  struct epoll_event evs[256];
  // Echo mode: the first connection's session first (TLS 1.3: its ticket comes
  // after the handshake, with the first echo), then everyone else resumes it.
  int started = 1;
  conns[0].id = 0;
  if (conn_open(&conns[0]) < 0) return fprintf(stderr, "tls_load: connect: %s\n", strerror(errno)), 1;
  if (g_handshakes) {
    for (; started < nconns; started++) {
      conns[started].id = started;
      conns[started].phase = (started * 37) % PATTERN_PERIOD;
      if (conn_open(&conns[started]) < 0) return fprintf(stderr, "tls_load: connect: %s\n", strerror(errno)), 1;
    }
  }
  uint64_t t_start = now_ns();
  t_measure = t_start + (uint64_t)(warmup * 1e9) + 200000000u;  // +0.2 s: connecting
  t_end = t_measure + (uint64_t)(duration * 1e9);
  double srv0 = -2, self0 = 0, srv1 = -1, self1 = 0;
  uint64_t m0 = 0, m1 = 0;
  while (!g_errors) {
    uint64_t now = now_ns();
    if (srv0 == -2 && now >= t_measure) {
      srv0 = server_pid ? proc_cpu_us(server_pid) : -1;
      self0 = self_cpu_us();
      m0 = now;
    }
    if (now >= t_end) break;
    // Echo mode: open the rest once the first connection holds a resumable session
    // (TLS 1.3: the server's ticket, which comes after the handshake).
    if (!g_handshakes && started < nconns && conns[0].state >= ST_SEND) {
      SSL_SESSION *s = SSL_get1_session(conns[0].ssl);
      if (s && SSL_SESSION_is_resumable(s)) {
        g_session = s;
        for (; started < nconns; started++) {
          conns[started].id = started;
          conns[started].phase = (started * 37) % PATTERN_PERIOD;
          if (conn_open(&conns[started]) < 0) return fprintf(stderr, "tls_load: connect: %s\n", strerror(errno)), 1;
        }
      } else {
        SSL_SESSION_free(s);
      }
    }
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; i++) step((conn_t *)evs[i].data.ptr);
  }
  srv1 = server_pid ? proc_cpu_us(server_pid) : -1;
  self1 = self_cpu_us();
  m1 = now_ns();
  if (m1 > t_end) m1 = t_end;
  int reused = 0;
  for (int i = 0; i < nconns; i++)
    if (conns[i].ssl && SSL_session_reused(conns[i].ssl)) reused++;
  double secs = m0 && m1 > m0 ? (double)(m1 - m0) / 1e9 : 0;
  double srv_us = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
  printf("{\"qps\":%.1f,\"msgs\":%llu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"mean_us\":%.2f,"
         "\"errors\":%d,\"seconds\":%.3f,\"conns\":%d,\"size\":%d,\"depth\":1,\"handshakes\":%d,\"resumed\":%d,"
         "\"server_cpu_us\":%.0f,\"client_cpu_pct\":%.1f}\n",
         secs > 0 ? (double)msgs / secs : 0, (unsigned long long)msgs, hist_percentile(msgs, 0.50) / 1e3,
         hist_percentile(msgs, 0.99) / 1e3, hist_percentile(msgs, 0.999) / 1e3, msgs ? lat_sum / (double)msgs / 1e3 : 0,
         g_errors, secs, nconns, g_size, g_handshakes, reused, srv_us, secs > 0 ? (self1 - self0) / 1e4 / secs : 0);
  return g_errors ? 1 : 0;
}
