// The readiness backend of io.h: the build's poller (epoll or kqueue) plus the
// sock_* calls. Connections are edge-triggered (see poller.h); a read that filled
// its buffer, or saw the peer's FIN with data, re-arms with poller_mod so the rest
// is reported again. Sends happen inside io_send.
#include <cstdint>
#include <new>

#include "io/io_backend.h"
#include "poller/poller.h"
#include "rn.h"
#include "transport/listener.h"

namespace rn {

namespace {

constexpr int kMaxEvents = 1024;
constexpr int kAcceptBurst = 128;

struct readiness_io;

// What a watcher is, to this backend (kept in io_watcher::io_priv).
struct role {
  void (*on_ready)(readiness_io* x, io_watcher* w, uint32_t mask);
};

struct readiness_io : io {
  poller* p = nullptr;
  int max_events = kMaxEvents;
  poll_event ev[kMaxEvents];
  int next = 0, count = 0;         // the events being dispatched
  io_watcher* current = nullptr;   // whose callback runs now
  bool current_closed = false;     // ... and it closed itself
  io_watcher* wake_w = nullptr;
  int spare = -1;
};

uint64_t token_of(io_watcher* w) { return reinterpret_cast<uintptr_t>(w); }

// Run w's callback; false if w was closed by it (then w must not be touched).
bool deliver(readiness_io* x, io_watcher* w, const io_event& e) {
  io_watcher* prev = x->current;
  bool prev_closed = x->current_closed;
  x->current = w;
  x->current_closed = false;
  w->cb(w, e);
  bool alive = !x->current_closed;
  x->current = prev;
  x->current_closed = prev_closed || (prev == w && !alive);
  return alive;
}

io_event make(io_event_type t, int32_t res, uint32_t flags = 0, uint8_t* data = nullptr) {
  io_event e;
  e.type = t;
  e.res = res;
  e.flags = flags;
  e.buf = -1;
  e.data = data;
  return e;
}

int set_mask(readiness_io* x, io_watcher* w, uint32_t mask) {
  if (mask == w->io_mask) return 0;
  int err = poller_mod(x->p, w->fd, token_of(w), mask);
  if (err == 0) w->io_mask = mask;
  return err;
}

void conn_ready(readiness_io* x, io_watcher* w, uint32_t mask) {
  if (mask & POLL_ERROR) {
    int err = sock_error(w->fd);
    deliver(x, w, make(IO_READ, err < 0 ? err : -ECONNRESET));
    return;
  }
  if ((mask & POLL_WRITE) && (w->io_mask & POLL_WRITE)) {
    if (!deliver(x, w, make(IO_WRITABLE, 0))) return;
  }
  if (!(mask & (POLL_READ | POLL_HANGUP))) return;
  bool peer_done = (mask & POLL_HANGUP) != 0;
  if (!(w->io_mask & POLL_READ)) {
    if (peer_done && !(mask & POLL_READ)) deliver(x, w, make(IO_HANGUP, 0, IO_F_PEER_DONE));
    return;
  }
  io_buf b;
  w->read_buf(w, &b);
  if (b.len == 0) {
    set_mask(x, w, w->io_mask & ~POLL_READ);  // paused until io_read_start
    return;
  }
  ssize_t n = sock_read(w->fd, b.data, b.len);
  if (n == -EAGAIN) return;
  uint32_t flags = peer_done ? static_cast<uint32_t>(IO_F_PEER_DONE) : 0u;
  if (n > 0 && (static_cast<size_t>(n) == b.len || peer_done)) {
    // Edge-triggered: more (or the FIN) may be waiting and will not be reported
    // again by itself. The MOD makes the poller look at the socket's level.
    flags |= IO_F_MORE;
    poller_mod(x->p, w->fd, token_of(w), w->io_mask);
  }
  deliver(x, w, make(IO_READ, static_cast<int32_t>(n), flags, n > 0 ? b.data : nullptr));
}

void connecting_ready(readiness_io* x, io_watcher* w, uint32_t mask);

const role kConn{conn_ready};
const role kConnecting{connecting_ready};

void connecting_ready(readiness_io* x, io_watcher* w, uint32_t mask) {
  if (!(mask & (POLL_WRITE | POLL_ERROR | POLL_HANGUP))) return;
  int err = sock_error(w->fd);
  if (err == 0 && (mask & (POLL_ERROR | POLL_HANGUP)) && !(mask & POLL_WRITE)) err = -ECONNREFUSED;
  if (err == 0) {
    w->io_priv = const_cast<role*>(&kConn);
    set_mask(x, w, POLL_READ | POLL_EDGE);
  }
  deliver(x, w, make(IO_CONNECTED, err));
}

struct accept_ctx {
  readiness_io* x;
  io_watcher* w;
  bool alive;
};

void listener_ready(readiness_io* x, io_watcher* w, uint32_t) {
  accept_ctx ctx{x, w, true};
  accept_sink sink;
  sink.ud = &ctx;
  sink.on_fd = [](void* ud, sock_t fd) {
    auto* c = static_cast<accept_ctx*>(ud);
    if (!c->alive) {  // the listener closed itself earlier in this burst
      sock_close(fd);
      return;
    }
    c->alive = deliver(c->x, c->w, make(IO_ACCEPTED, fd));
  };
  listener_accept_burst(w->fd, kAcceptBurst, &x->spare, &sink);
  if (ctx.alive && sink.last_error < 0 && sink.last_error != -EAGAIN) deliver(x, w, make(IO_ACCEPTED, sink.last_error));
}

void wake_ready(readiness_io* x, io_watcher* w, uint32_t) {
  poller_wake_ack(x->p);  // before the callback: a wake during it is reported again
  deliver(x, w, make(IO_WAKE, 0));
}

const role kListener{listener_ready};
const role kWake{wake_ready};

readiness_io* self(io* x) { return static_cast<readiness_io*>(x); }

int add(readiness_io* x, io_watcher* w, uint32_t mask, const role* r) {
  int err = poller_add(x->p, w->fd, token_of(w), mask);
  if (err < 0) return err;
  w->io_mask = mask;
  w->io_priv = const_cast<role*>(r);
  return 0;
}

const io_vtbl kVtbl = {
    /*destroy*/
    [](io* b) {
      readiness_io* x = self(b);
      listener_spare_close(&x->spare);
      poller_destroy(x->p);
      delete x;
    },
    /*fd*/ [](const io* b) { return poller_fd(static_cast<const readiness_io*>(b)->p); },
    /*watch_conn*/ [](io* b, io_watcher* w) { return add(self(b), w, POLL_READ | POLL_EDGE, &kConn); },
    /*watch_listener*/ [](io* b, io_watcher* w) { return add(self(b), w, POLL_READ, &kListener); },
    /*watch_wake*/
    [](io* b, io_watcher* w) {
      readiness_io* x = self(b);
      if (x->wake_w) return -EALREADY;
      int err = poller_wake_open(x->p, token_of(w));
      if (err < 0) return err;
      w->io_priv = const_cast<role*>(&kWake);
      x->wake_w = w;
      return 0;
    },
    /*connect*/
    [](io* b, io_watcher* w, const addr& a) {
      int fd = sock_connect(a);
      if (fd < 0) return fd;
      w->fd = fd;
      int err = add(self(b), w, POLL_WRITE | POLL_EDGE, &kConnecting);
      if (err < 0) {
        sock_close(fd);
        w->fd = -1;
      }
      return err;
    },
    /*read_start*/ [](io* b, io_watcher* w) { return set_mask(self(b), w, w->io_mask | POLL_READ); },
    /*read_stop*/ [](io* b, io_watcher* w) { return set_mask(self(b), w, w->io_mask & ~POLL_READ); },
    /*send*/
    [](io*, io_watcher* w, const iovec_t* iov, int n) -> ssize_t {
      ssize_t r = sock_writev(w->fd, iov, n);
      return r == -EAGAIN ? 0 : r;
    },
    /*want_write*/
    [](io* b, io_watcher* w, bool on) {
      return set_mask(self(b), w, on ? (w->io_mask | POLL_WRITE) : (w->io_mask & ~POLL_WRITE));
    },
    /*shutdown_write*/ [](io*, io_watcher* w) { return sock_shutdown_write(w->fd); },
    /*close*/
    [](io* b, io_watcher* w) {
      readiness_io* x = self(b);
      if (w == x->wake_w) return -EINVAL;  // the wake-up lives as long as the io
      if (w->fd >= 0) {
        poller_del(x->p, w->fd);
        sock_close(w->fd);
        w->fd = -1;
      }
      // Void its events still ahead in this dispatch (libuv's rule).
      for (int j = x->next; j < x->count; j++)
        if (x->ev[j].token == token_of(w)) x->ev[j].mask = 0;
      if (x->current == w) x->current_closed = true;
      w->io_mask = 0;
      w->io_priv = nullptr;
      return 0;
    },
    /*buf_return*/ [](io*, int32_t) {},
    /*poll*/
    [](io* b, int timeout_ms) {
      readiness_io* x = self(b);
      int n = poller_wait(x->p, x->ev, x->max_events, timeout_ms);
      if (n < 0) return n;
      x->count = n;
      for (int i = 0; i < n; i++) {
        x->next = i + 1;
        if (x->ev[i].mask == 0) continue;  // voided by a close
        auto* w = reinterpret_cast<io_watcher*>(static_cast<uintptr_t>(x->ev[i].token));
        const role* r = static_cast<const role*>(w->io_priv);
        if (r) r->on_ready(x, w, x->ev[i].mask);
      }
      x->next = x->count = 0;
      return n;
    },
    /*wake*/ [](io* b) { return poller_wake(self(b)->p); },
};

int create(const io_config& cfg, io** out) {
  readiness_io* x = new (std::nothrow) readiness_io;
  if (!x) return -ENOMEM;
  int err = poller_create(&x->p);
  if (err < 0) {
    delete x;
    return err;
  }
  x->vt = &kVtbl;
  x->name = poller_name();
  x->max_events = cfg.events > 0 && cfg.events < kMaxEvents ? static_cast<int>(cfg.events) : kMaxEvents;
  x->spare = listener_spare_open();
  *out = x;
  return 0;
}

}  // namespace

extern const io_backend io_backend_readiness;
const io_backend io_backend_readiness = {poller_name(), nullptr, create};

}  // namespace rn
