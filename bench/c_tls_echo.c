// The C + OpenSSL floor of the TLS echo bench (bench/tls.js): one thread, epoll
// (edge-triggered), non-blocking sockets under SSL_set_fd, one SSL per
// connection, the session cache and tickets on (OpenSSL's defaults), renegotiation
// off. Whatever it reads it writes back; a peer that does not read stops our
// reading until the write goes out.
//
// usage: c_tls_echo cert.pem key.pem [port]   (prints "listening on tcp://127.0.0.1:PORT")
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)

typedef struct {
  int fd, open;
  SSL *ssl;
  size_t pend_off, pend_len;  // bytes read and not yet written
  unsigned char buf[BUF];
} conn_t;

static SSL_CTX *ctx;
static int ep;

static void conn_free(conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  SSL_free(c->ssl);
  free(c);
}

// 1: keep going, 0: blocked, -1: close.
static int blocked(conn_t *c, int rc) {
  int e = SSL_get_error(c->ssl, rc);
  ERR_clear_error();
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void serve(conn_t *c) {
  if (!c->open) {
    int rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
      if (blocked(c, rc) < 0) conn_free(c);
      return;
    }
    c->open = 1;
  }
  for (;;) {
    while (c->pend_len > 0) {
      int rc = SSL_write(c->ssl, c->buf + c->pend_off, (int)c->pend_len);
      if (rc <= 0) {
        if (blocked(c, rc) < 0) conn_free(c);
        return;  // edge-triggered: EPOLLOUT comes when there is room
      }
      c->pend_off += (size_t)rc;
      c->pend_len -= (size_t)rc;
    }
    int rc = SSL_read(c->ssl, c->buf, BUF);
    if (rc <= 0) {
      if (blocked(c, rc) < 0) conn_free(c);
      return;
    }
    c->pend_off = 0;
    c->pend_len = (size_t)rc;
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: c_tls_echo cert.pem key.pem [port]\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  ctx = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 || SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"c_tls_echo", 10);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(argc > 3 ? (uint16_t)atoi(argv[3]) : 0)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 || getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
    perror("c_tls_echo: listen");
    return 1;
  }
  ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  printf("listening on tcp://127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c) {
        serve(c);
        continue;
      }
      for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) break;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        c->fd = fd;
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, fd);
        SSL_set_accept_state(c->ssl);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        serve(c);
      }
    }
  }
}
