// The io_uring completion engine: a submission/completion ring, a ring of provided
// receive buffers, and the few requests a TCP loop needs — (multishot) accept,
// (multishot) recv into the provided buffers, sendmsg, a multishot poll for the
// wake fd, and cancel. Neutral records come out ({user data, result, flags}); the
// loop never sees an io_uring struct. Used by the loop's io_uring backend; the
// ring fd is pollable, so a host event loop (libuv) watches it like an epoll fd.
//
// Built only with RINGNET_HAVE_IO_URING (liburing linked statically).
#pragma once
#include <cstddef>
#include <cstdint>

#ifndef _WIN32
#include <sys/socket.h>
#else
// No io_uring on Windows (io_uring_none.cc answers -ENOSYS), but the loop's ring
// path still compiles there: it needs the two POSIX structs by name.
struct iovec {
  void* iov_base;
  size_t iov_len;
};
struct msghdr {
  void* msg_name;
  int msg_namelen;
  iovec* msg_iov;
  size_t msg_iovlen;
  void* msg_control;
  size_t msg_controllen;
  int msg_flags;
};
#endif

#include "sys/uring_probe.h"

namespace rn {

struct uring;

enum : uint32_t {
  URING_MORE = 1,      // the multishot request stays armed; more completions follow
  URING_BUF = 2,       // bytes landed in provided buffer `buf`, at `data`
  URING_BUF_MORE = 4,  // that buffer is not finished: the kernel keeps filling it after `data`
};

struct uring_event {
  uint64_t ud;
  int32_t res;       // >= 0 result (bytes, fd) or -errno
  uint32_t flags;    // URING_*
  uint16_t buf;      // URING_BUF: the buffer id
  uint8_t* data;     // URING_BUF: the first byte received
};

struct uring_params {
  uint32_t entries = 1024;   // submission queue size (the completion queue is 4x)
  // Provided receive buffers: buf_count (a power of two, <= 32768) slices of
  // buf_size bytes at bufs, which must outlive the ring. May be null: then
  // uring_recv is unavailable.
  uint8_t* bufs = nullptr;
  uint32_t buf_size = 0;
  uint32_t buf_count = 0;
};

// caps: what uring_probe found. 0 or -errno.
int uring_create(const uring_params& p, const uring_caps& caps, uring** out);
// Cancels nothing: the kernel drops the ring's requests as the ring goes.
void uring_destroy(uring* u);
int uring_fd(const uring* u);
const uring_caps& uring_caps_of(const uring* u);

// Queue a request; the completion carries `ud`. Returns 0 or -errno. A full
// submission queue is submitted first, so these only fail if that fails.
// accept: res = the new socket (non-blocking, close-on-exec); multishot where the kernel has it.
int uring_accept(uring* u, int lfd, uint64_t ud);
// recv into the provided buffers; multishot where the kernel has it. res = 0: peer
// finished; -ENOBUFS: no buffer was free, the request has ended (arm it again once
// buffers are back).
int uring_recv(uring* u, int fd, uint64_t ud);
// sendmsg without SIGPIPE. *m, its iovecs and their bytes must stay valid until the
// completion; res may be short (partial send): send the rest again.
int uring_sendmsg(uring* u, int fd, const msghdr* m, uint64_t ud);
// Multishot POLLIN on fd (the loop's wake eventfd).
int uring_poll_read(uring* u, int fd, uint64_t ud);
// One POLLIN on fd: one completion once it is readable.
int uring_poll_once(uring* u, int fd, uint64_t ud);
// One-shot poll for writability (a non-blocking connect finishing).
int uring_poll_write(uring* u, int fd, uint64_t ud);
// One poll for POLLERR/POLLHUP (and POLLRDHUP, which the kernel always adds): how a
// connection that is not reading (paused) still learns of a reset or hang-up.
int uring_poll_error(uring* u, int fd, uint64_t ud);
// Whether that poll's completion result reports an error or a full hang-up (not
// only the peer's FIN).
bool uring_poll_hung_up(int32_t res);
// Cancel every request with user data `target`; the cancel's own completion has `ud`.
int uring_cancel(uring* u, uint64_t target, uint64_t ud);

// Hand the queued requests to the kernel (one io_uring_enter; none if nothing is
// queued). Returns the number submitted or -errno.
int uring_submit(uring* u);
// Block until a completion is ready or timeout_ms passes (-1: forever); for hosts
// and tests without an outer event loop. Submits first. 0, -ETIME or -errno.
int uring_wait(uring* u, int timeout_ms);
// Take up to max completions. Returns how many.
int uring_reap(uring* u, uring_event* out, int max);
// Give a finished buffer (an event without URING_BUF_MORE) back for receiving.
void uring_buf_return(uring* u, uint16_t buf);
// Buffers the kernel may fill now (returned and not yet finished).
uint32_t uring_bufs_free(const uring* u);

}  // namespace rn
