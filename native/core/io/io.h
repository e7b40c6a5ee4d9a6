// The I/O seam: the one interface under the loop that every backend implements.
//
//   readiness  (io_readiness.cc over poller/poller_epoll.cc, poller_kqueue.cc):
//              "fd is ready" -> the backend itself calls read / writev / accept.
//   completion (io_uring.cc now, io_iocp.cc next): the backend submits "accept",
//              "recv into this buffer", "send these buffers", "connect", "close"
//              and reports when they are done.
//
// The loop sees only the neutral records below and never an OS struct, an fd kind
// or a backend name; a new backend is a new file plus one line in the registry
// (io_registry.cc). libuv draws the same line between src/unix/stream.c and
// src/win/tcp.c.
//
// STATUS: this header is the published contract (additive changes only from here;
// a breaking change is announced in its commit message). io_readiness.cc
// implements it over the build's poller and passes test/native/test_io_contract.cc
// (CTest io_contract_<backend>, which a new backend joins with one line). The loop
// still calls the poller and sock_* directly; moving loop/loop.cc onto io.h is
// the next step of issue 9. Backend files also include io/io_backend.h (the
// vtable they fill in).
//
// ---------------------------------------------------------------------------------
// Threads. Everything runs on the loop's thread except io_wake(), which any thread
// may call while the io exists.
//
// Watchers. Every fd the loop owns (connection, listener, the wake-up) is a
// watcher: a struct the loop embeds in its own record, with the callback that
// handles that fd. io_poll() calls w->cb(w, ev) once per event; there is no switch
// on fd kind anywhere. The loop owns the watcher's memory; it must stay valid from
// io_watch*() until io_close() returned 0 or the IO_CLOSED event arrived.
//
// Events in flight. After io_close(w) (or io_stop(w)) no event for w is
// delivered, even one the kernel had already reported in the same io_poll() —
// backends void them (libuv invalidates in-flight events the same way). A slot
// that takes a new connection in the same io_poll() never sees the old one's events.
//
// Errors: 0 / non-negative counts on success, -errno on failure, never a throw.
//
// ---------------------------------------------------------------------------------
// Buffers, and who owns them while a request is in flight (the part that lets the
// batch arena, zero-copy views and corked writes work on completion backends):
//
// READS. The loop says where bytes go through w->read_buf(w, &buf):
//   - readiness: called when the fd is readable, just before read(); the buffer is
//     the loop's again as soon as IO_READ is delivered (the arena case today).
//   - completion without provided buffers (IOCP, old io_uring): called when the
//     recv is submitted; the buffer belongs to the backend until IO_READ for it
//     arrives. The loop therefore gives such a backend a per-connection buffer,
//     never a slice of the batch arena (the arena is recycled after each batch).
//   - completion with provided buffers (io_uring 5.19+, caps.provided_bufs): the
//     backend reads into a ring of buffers the LOOP allocated (io_config.bufs —
//     allocate them as JS-visible ArrayBuffer memory, like the arena, so handlers
//     get zero-copy views of them) and read_buf is not called. IO_READ then has
//     IO_F_PROVIDED and ev.buf: the buffer stays the loop's until it calls
//     io_buf_return(buf) — after the batch that viewed it has been settled, having
//     copied any unconsumed bytes to the connection's own buffer, exactly as the
//     arena is settled today.
//   buf.len == 0 means "not now" (connection paused at its inbound cap): no read is
//   made or submitted until io_read_start(w) again.
//
// SENDS. io_send(w, iov, n) sends the loop's bytes:
//   - caps.completion == false: the send happens inside the call; the return value
//     is the bytes taken (may be short) and the iovecs' memory is the caller's
//     again at once — staging, arena views and JS memory can be sent in place.
//     After a short send, the caller keeps the rest (its outbuf) and calls
//     io_want_write(w, true); IO_WRITABLE says when to io_send again.
//   - caps.completion == true: the call returns IO_PENDING; the iovec ARRAY may be
//     reused at once (the backend copies it), but the BYTES must stay valid and
//     unchanged until IO_SENT arrives. So a completion backend's caller sends only
//     from memory it owns until then (its outbuf chunks), never staging or arena
//     memory that is recycled after the batch: apply-ops copies into the outbuf
//     first (one copy, as a readiness backend makes for any short send anyway).
//     IO_SENT.res is the bytes sent (may be short: partial send), after which the
//     caller consumes that much and calls io_send with the rest.
//   At most one io_send per watcher is in flight: the stream stays ordered, and
//   corked writes stay one send per dirty connection per iteration.
//
// CLOSE. io_close(w) stops reporting w and closes its fd. It returns 0 when the
// watcher (and every buffer lent to the backend for it) is free now — always, for
// readiness backends — or IO_PENDING when requests are still in flight: then one
// IO_CLOSED event arrives when the last one has finished, and only then may the
// loop free the watcher and the buffers of its in-flight reads and sends.
// ---------------------------------------------------------------------------------
#pragma once
#include <cstddef>
#include <cstdint>

#include "sys/sock.h"

namespace rn {

struct io;
struct io_watcher;

constexpr int IO_PENDING = 1;  // io_send / io_close: finished later, by an event

enum io_event_type : uint8_t {
  IO_ACCEPTED = 1,  // listener: res = new socket fd (non-blocking, close-on-exec) or -errno
  IO_READ = 2,      // res > 0 bytes at data; 0 = peer finished sending; < 0 = -errno (closed by the peer, reset, ...)
  IO_WRITABLE = 3,  // readiness only: after io_want_write(w, true), the fd takes bytes again
  IO_SENT = 4,      // completion only: res = bytes the pending io_send sent, or -errno
  IO_CONNECTED = 5, // after io_connect: res = 0 or -errno
  IO_CLOSED = 6,    // after io_close returned IO_PENDING: the watcher is free now
  IO_WAKE = 7,      // the wake watcher: io_wake() was called (wakes coalesce)
  IO_HANGUP = 8,    // readiness: the peer hung up while nothing was being read (paused, draining)
};

enum : uint32_t {
  IO_F_MORE = 1,      // IO_READ: the read filled its buffer; more may be waiting (the backend re-arms itself)
  IO_F_PROVIDED = 2,  // IO_READ: data is in provided buffer ev.buf; give it back with io_buf_return
  IO_F_PEER_DONE = 4, // IO_READ / IO_HANGUP: the peer has also shut down its side (FIN seen with the data)
};

struct io_event {
  io_event_type type;
  uint32_t flags;   // IO_F_*
  int32_t res;      // see the event type
  int32_t buf;      // IO_F_PROVIDED: the buffer's id; otherwise -1
  uint8_t* data;    // IO_READ with res > 0: the first byte received
};

// Where the next read may land: len bytes at data (len 0: not now). For a
// completion backend without provided buffers, the memory is lent until IO_READ.
struct io_buf {
  uint8_t* data = nullptr;
  uint32_t len = 0;
};

struct io_watcher {
  void (*cb)(io_watcher* w, const io_event& ev) = nullptr;
  void (*read_buf)(io_watcher* w, io_buf* out) = nullptr;  // connections only
  sock_t fd = -1;
  // Backend-private state below (interest mask registered with the poller — the
  // "old mask" poller_mod gets —, requests in flight, ...). The loop never reads it.
  uint32_t io_mask = 0;
  uint32_t io_inflight = 0;
  void* io_priv = nullptr;
};

struct io_caps {
  bool completion = false;        // sends finish by IO_SENT; buffers are lent (see above)
  bool provided_bufs = false;     // reads land in io_config.bufs (IO_F_PROVIDED)
  bool multishot_accept = false;  // one accept request yields many IO_ACCEPTED
};

struct io_config {
  uint32_t events = 1024;   // most events handled per io_poll
  // Provided receive buffers (used only where caps.provided_bufs): buf_count
  // (a power of two) slices of buf_size bytes at bufs, owned by the loop, outliving the io.
  uint8_t* bufs = nullptr;
  uint32_t buf_size = 0;
  uint32_t buf_count = 0;
};

// ---- lifetime -------------------------------------------------------------------
// Create the backend named `name` ("epoll", "kqueue", "io_uring"; see io_registry).
// -ENOSYS: not built in; other -errno: the kernel refused it (why, when non-null,
// gets a sentence: "io_uring_setup: EPERM (blocked by seccomp?)").
int io_create(const char* name, const io_config& cfg, io** out, char* why, size_t why_len);
// Closes nothing the loop owns: the loop io_close()s its watchers first.
void io_destroy(io* x);
const char* io_name(const io* x);
const io_caps& io_caps_of(const io* x);
// The fd a host event loop (libuv) watches for "io_poll has work"; -1 if none.
int io_fd(const io* x);

// ---- watching -------------------------------------------------------------------
// A connected socket: reads start at once (io_read_start is implied).
int io_watch_conn(io* x, io_watcher* w);
// A listening socket: the backend accepts in bursts (and, out of descriptors,
// spends a spare one to accept-and-drop so the listener does not spin: EMFILE is
// then reported once as IO_ACCEPTED with res = -EMFILE).
int io_watch_listener(io* x, io_watcher* w);
// The cross-thread wake-up of this io (one per io).
int io_watch_wake(io* x, io_watcher* w);
// Open a socket (w->fd is set) and start a non-blocking connect to a;
// IO_CONNECTED follows, after which w is a connection (reads started).
int io_connect(io* x, io_watcher* w, const addr& a);

// ---- per connection -------------------------------------------------------------
int io_read_start(io* x, io_watcher* w);  // resume reading (after a pause)
int io_read_stop(io* x, io_watcher* w);   // pause: no read is made or submitted
// See SENDS above. Returns bytes taken now (readiness), IO_PENDING (completion) or -errno.
ssize_t io_send(io* x, io_watcher* w, const iovec_t* iov, int n);
int io_want_write(io* x, io_watcher* w, bool on);  // readiness: report IO_WRITABLE
int io_shutdown_write(io* x, io_watcher* w);        // half-close after what was sent
// See CLOSE above: 0 (free now) or IO_PENDING (IO_CLOSED follows).
int io_close(io* x, io_watcher* w);
// Give a provided buffer (IO_F_PROVIDED) back to the backend.
void io_buf_return(io* x, int32_t buf);

// ---- the loop's wait --------------------------------------------------------------
// Submit what is queued, wait up to timeout_ms (0: just look, -1: forever), call
// the watchers' callbacks. Returns the events handled or -errno.
int io_poll(io* x, int timeout_ms);
// Thread-safe while x exists: makes the wake watcher's IO_WAKE come (coalesced).
// The backend acknowledges the wake-up before calling the callback, so a wake
// that lands during the callback is reported again.
int io_wake(io* x);

// ---- backends ---------------------------------------------------------------------
// What one backend file provides; io_registry.cc lists them (one line each).
struct io_backend {
  const char* name;
  // 0 if it can run here, else -errno and a sentence in why (kernel, seccomp, build).
  int (*probe)(char* why, size_t why_len);
  int (*create)(const io_config& cfg, io** out);
};
// The backends built into this binary, in 'auto' preference order; n gets the count.
const io_backend* const* io_backends(size_t* n);

}  // namespace rn
