// For backend files only: what a backend fills in so the io_* calls of io.h reach
// it. A backend defines `struct <name>_io : io`, sets vt and caps, and lists its
// io_backend in io_registry.cc. The loop never includes this header.
#pragma once
#include "io/io.h"

namespace rn {

struct io_vtbl {
  void (*destroy)(io* x);
  int (*fd)(const io* x);
  int (*watch_conn)(io* x, io_watcher* w);
  int (*watch_listener)(io* x, io_watcher* w);
  int (*watch_wake)(io* x, io_watcher* w);
  int (*connect)(io* x, io_watcher* w, const addr& a);
  int (*read_start)(io* x, io_watcher* w);
  int (*read_stop)(io* x, io_watcher* w);
  ssize_t (*send)(io* x, io_watcher* w, const iovec_t* iov, int n);
  int (*want_write)(io* x, io_watcher* w, bool on);
  int (*shutdown_write)(io* x, io_watcher* w);
  int (*close)(io* x, io_watcher* w);
  void (*buf_return)(io* x, int32_t buf);
  int (*poll)(io* x, int timeout_ms);
  int (*wake)(io* x);
};

struct io {
  const io_vtbl* vt = nullptr;
  const char* name = nullptr;
  io_caps caps;
};

}  // namespace rn
