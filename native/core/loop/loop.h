// One event loop: a poller, a connection table, inbound/outbound buffers, a wake fd
// with a cross-thread task queue, and the batch protocol with its host (JS).
//
// Lifetime and threads: everything here runs on the loop's thread except
// loop_post(), which any thread may call while the loop exists.
#pragma once
#include <cstddef>
#include <cstdint>

#include "codec/codec.h"
#include "mem/bufpool.h"
#include "sys/sock.h"
#include "loop/taskq.h"
#include "transport/tls.h"

namespace rn {

struct loop;

// The I/O model under a loop (issue 9). IO_URING falls back to EPOLL at
// loop_create when the kernel, a sysctl or seccomp refuses it and
// backend_fallback is set; loop_backend() says which one runs.
enum loop_backend_kind : uint8_t { BACKEND_EPOLL = 0, BACKEND_IO_URING = 1 };

struct loop_config {
  loop_backend_kind backend = BACKEND_EPOLL;
  bool backend_fallback = true;
  uint32_t max_conns = 65536;
  uint32_t read_size = 64 * 1024;           // bytes per read; also the first inbound buffer
  uint32_t inbound_limit = 4 * 1024 * 1024;  // a connection's inbound cap: reading pauses there (issue 8: 4 slow readers cost 473 MiB RSS at 64 MiB, 82 MiB at 4 MiB; echo throughput the same)
  uint32_t write_high = 64 * 1024;          // outbound high watermark (EV_WRITABLE below half)
  // A connection's hard outbound cap: queueing past it closes the connection with
  // ENOBUFS (JS: ERR_RINGNET_OUTBOUND_LIMIT). 0: no cap.
  uint32_t outbound_limit = 16 * 1024 * 1024;
  uint32_t staging_size = 1024 * 1024;      // JS-side copy area for small writes
  uint32_t ops_cap = 16384;
  uint32_t events_cap = 16384;
  uint32_t pool_keep = 256;                 // free read_size buffers kept for reuse
  // node:net's allowHalfOpen. false: after the peer's FIN (EV_END), the ops of that
  // batch and queued bytes are sent, then the connection closes. true: it stays
  // writable until the host closes it; once both sides have sent FIN it closes.
  bool half_open = false;
  // Deadlines (issue 10). idle_timeout_ms: every new connection's idle timeout
  // (0 = none). timeout_events: the host handles expiry (EV_TIMEOUT); without it a
  // connection whose deadline passes is closed with ETIMEDOUT. timer_tick_ms: the
  // wheel's resolution; a deadline fires within one tick after it is due.
  uint32_t idle_timeout_ms = 0;
  bool timeout_events = false;
  uint32_t timer_tick_ms = 10;
  conn_opts conn;
};

// Sizes in bytes of the shared regions the host must provide for this config.
struct shared_sizes {
  size_t events, conns, ops, staging, stats;
};
shared_sizes loop_shared_sizes(const loop_config& cfg);

struct loop_shared {
  int32_t* events = nullptr;
  int32_t* conns = nullptr;
  int32_t* ops = nullptr;
  uint8_t* staging = nullptr;
  double* stats = nullptr;
};

struct loop_host {
  void* ud = nullptr;
  allocator alloc;
  // Deliver the events region to the host; called with events present. The host
  // dispatches them and sets events[EV_COUNT] = 0.
  void (*on_batch)(void* ud) = nullptr;
  // Resolve an OP_WRITE_REF's bytes; valid until on_ops_done.
  int (*resolve_ref)(void* ud, int32_t index, const uint8_t** p, size_t* n) = nullptr;
  // The ops (and their references) have been applied; the host may drop references.
  void (*on_ops_done)(void* ud) = nullptr;
};

// -errno on failure; when io_uring was asked for without fallback and is refused,
// the error is the probe's (-ENOSYS, -EPERM, -ENOTSUP) and *why (if given) says why.
int loop_create(const loop_config& cfg, const loop_host& host, const loop_shared& shm, loop** out,
                const char** why = nullptr);
// "epoll" or "io_uring": the backend this loop runs on.
const char* loop_backend(const loop* l);
// Why io_uring was asked for and epoll runs instead; nullptr if no fallback happened.
const char* loop_backend_fallback(const loop* l);
// Closes every connection and listener without events, frees everything.
void loop_destroy(loop* l);

int loop_fd(const loop* l);  // what the host's event loop watches; -1: none (Windows)
// With no fd to watch (loop_fd() == -1): a waiter thread parks here and, on > 0, has
// the loop's thread call loop_run_once(l, 0). See poller/poller_park.h.
int loop_park(loop* l, int timeout_ms);
void loop_unpark(loop* l);  // any thread: a parked or later loop_park returns -ECANCELED
int32_t loop_arena_id(const loop* l);  // buffer id of the read arena (see bufpool.h)
// Poll once (timeout_ms: 0 = just look), read, dispatch one batch to the host, apply
// its ops. Returns the number of poller events handled, or -errno.
// A timeout_ms longer than the next deadline (or -1, forever) is cut to it.
int loop_run_once(loop* l, int timeout_ms);
// Milliseconds until the next deadline is due (0: due now), -1 if none: the host
// wakes the loop then (one host timer per loop, never one per connection).
int64_t loop_next_timeout(loop* l);
// Apply recorded ops now (JS flush outside a batch). Returns 0 or -errno.
int loop_apply_ops(loop* l);
// Deliver pending events (e.g. closes caused by loop_apply_ops) to the host.
void loop_deliver(loop* l);
// Move events that did not fit the region into it (after the host has emptied it);
// returns the records now present. For hosts that dispatch outside loop_deliver.
int32_t loop_refill_events(loop* l);

// Listen on a; returns a listener index, or -errno with *failed_call set. tls (a
// reference is taken): accepted connections speak TLS; EV_OPEN comes after the
// handshake, and a failed handshake is EV_TLS_ERROR instead of EV_CLOSE.
int loop_listen(loop* l, const addr& a, const listen_opts& o, addr* bound, const char** failed_call,
                tls_ctx* tls = nullptr);
// Replace a TLS listener's context (certificate hot reload): new handshakes use it,
// open connections keep theirs. listener_id -1: the context of connections a main
// reactor hands over (loop_adopt / TASK_ADOPT; nullptr: plain); -2, -3 …: those
// of the main reactor's second, third … listener. 0 or -EINVAL.
int loop_set_tls(loop* l, int listener_id, tls_ctx* tls);
// A TLS connection's negotiated state and peer certificate; -ENOTCONN, -ENOTSUP (plain).
int loop_conn_tls_info(loop* l, uint32_t slot, uint32_t gen, tls_info* out);
// A TLS client connection's session to resume with (DER): 0, -ENOTCONN, -ENOTSUP
// (plain, or a server side), -EAGAIN (none resumable yet).
int loop_conn_tls_session(loop* l, uint32_t slot, uint32_t gen, std::string* out);
// EV_TLS_SNI: the server name the paused handshake asks for (nullptr: gone), and
// the host's answer: sub (a server context; nullptr: the listener's own), or err
// (the handshake fails with it: EV_TLS_ERROR). 0, -ENOTCONN, -EINVAL (not waiting).
const std::string* loop_tls_sni_name(loop* l, uint32_t slot, uint32_t gen);
int loop_tls_sni_answer(loop* l, uint32_t slot, uint32_t gen, tls_ctx* sub, const tls_error* err);
// The code an EV_CLOSE / EV_TLS_ERROR arg >= layout::TLS_ERR_BASE names; nullptr otherwise.
const tls_error* loop_tls_error(const loop* l, int arg);
// Stop accepting and close every listener.
void loop_unlisten(loop* l);
// Connect to a (non-blocking) for the host: 0, or -errno when it fails at once
// (ENETUNREACH, ENOSPC when the table is full). Later: EV_OPEN with arg = tag once
// connected (the connection then behaves as an accepted one), or EV_DIAL_FAIL
// [tag, errno] (ECONNREFUSED, ETIMEDOUT after timeout_ms if > 0, ECANCELED when
// the loop closes everything first). tag > 0. tls (a client session, owned by the
// loop from now on, freed if the dial fails at once): EV_OPEN comes after its
// handshake, and a failed handshake is an EV_DIAL_FAIL with a TLS code (arg >=
// TLS_ERR_BASE); timeout_ms covers the connect and the handshake. codec: a
// loop_add_codec id (0: none).
int loop_dial(loop* l, const addr& a, uint32_t timeout_ms, int32_t tag, tls_sess* tls = nullptr, int codec = 0);
// Framing codecs (issue 12, loop_codec.cc). loop_add_codec: an id (>= 1) for s, or
// -EINVAL (bad spec), -ENOSPC (64 codecs already), -ENOMEM. A codec connection's
// EV_DATA comes with its frame list for the batch (layout.h CT_FRAMES, FR_*) in the
// frames buffer, a host buffer (loop_frames_id; -1 until the first codec). A frame
// over the spec's max closes it after the batch with -EMSGSIZE unless the host
// closes it first (FR_TOO_LARGE tells it). loop_set_accept_codec: the codec of
// connections the loop's listeners accept and a main reactor hands over (0: none).
int loop_add_codec(loop* l, const codec_spec& s);
int loop_set_accept_codec(loop* l, int id);
int32_t loop_frames_id(const loop* l);
// Take ownership of an accepted socket (in-loop accept or a main reactor's hand-off).
int loop_adopt(loop* l, int fd);

// Close every connection. graceful: flush outbound first (closing when drained);
// otherwise close now. Either way EV_CLOSE is emitted for each.
void loop_close_all(loop* l, bool graceful);
uint32_t loop_count(const loop* l);
// Live connections, readable from any thread.
uint32_t loop_live(const loop* l);
// Copy the stats region (layout::ST_COUNT doubles) from any thread. The copy may
// mix values from before and after a concurrent update; each value is whole.
void loop_stats_snapshot(const loop* l, double* out);

// Per-connection operations for a (slot, gen) name. -ENOTCONN if stale.
int loop_conn_addr(loop* l, uint32_t slot, uint32_t gen, bool peer, addr* out);
int loop_conn_nodelay(loop* l, uint32_t slot, uint32_t gen, bool on);
int loop_conn_keepalive(loop* l, uint32_t slot, uint32_t gen, bool on, int secs);
int loop_conn_bufsize(loop* l, uint32_t slot, uint32_t gen, bool send, int bytes);
int loop_conn_reset(loop* l, uint32_t slot, uint32_t gen);  // abortive close (RST)

// Thread-safe: queue a task for the loop (write/close/wake/adopt). 0, -ESHUTDOWN
// (loop closing), or -ENOTCONN when the task names a connection that is already
// closed. A connection that closes after this check is dropped by the loop: a
// task never reaches a newer connection in the same slot.
int loop_post(loop* l, task&& t);
// Loop thread: refuse further posts (engine stopping).
void loop_close_tasks(loop* l);

}  // namespace rn
