// io.h's calls, forwarded to the backend that made the io; the registry of
// backends built into this binary.
#include <cstdio>
#include <cstring>

#include "io/io_backend.h"
#include "rn.h"

namespace rn {

extern const io_backend io_backend_readiness;  // io_readiness.cc (epoll / kqueue by build)

namespace {
// In 'auto' preference order. A new backend: its file, plus one line here.
const io_backend* const kBackends[] = {
    &io_backend_readiness,
};
}  // namespace

const io_backend* const* io_backends(size_t* n) {
  *n = sizeof(kBackends) / sizeof(kBackends[0]);
  return kBackends;
}

int io_create(const char* name, const io_config& cfg, io** out, char* why, size_t why_len) {
  size_t n = 0;
  const io_backend* const* all = io_backends(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(all[i]->name, name) != 0) continue;
    if (all[i]->probe) {
      int err = all[i]->probe(why, why_len);
      if (err < 0) return err;
    }
    return all[i]->create(cfg, out);
  }
  if (why && why_len) snprintf(why, why_len, "backend '%s' is not built into this binary", name);
  return -ENOSYS;
}

void io_destroy(io* x) {
  if (x) x->vt->destroy(x);
}
const char* io_name(const io* x) { return x->name; }
const io_caps& io_caps_of(const io* x) { return x->caps; }
int io_fd(const io* x) { return x->vt->fd(x); }
int io_watch_conn(io* x, io_watcher* w) { return x->vt->watch_conn(x, w); }
int io_watch_listener(io* x, io_watcher* w) { return x->vt->watch_listener(x, w); }
int io_watch_wake(io* x, io_watcher* w) { return x->vt->watch_wake(x, w); }
int io_connect(io* x, io_watcher* w, const addr& a) { return x->vt->connect(x, w, a); }
int io_read_start(io* x, io_watcher* w) { return x->vt->read_start(x, w); }
int io_read_stop(io* x, io_watcher* w) { return x->vt->read_stop(x, w); }
ssize_t io_send(io* x, io_watcher* w, const iovec_t* iov, int n) { return x->vt->send(x, w, iov, n); }
int io_want_write(io* x, io_watcher* w, bool on) { return x->vt->want_write(x, w, on); }
int io_shutdown_write(io* x, io_watcher* w) { return x->vt->shutdown_write(x, w); }
int io_close(io* x, io_watcher* w) { return x->vt->close(x, w); }
void io_buf_return(io* x, int32_t buf) { x->vt->buf_return(x, buf); }
int io_poll(io* x, int timeout_ms) { return x->vt->poll(x, timeout_ms); }
int io_wake(io* x) { return x->vt->wake(x); }

}  // namespace rn
