#include "uring_probe.h"

#include <cstdlib>
#include <cstring>

#include "rn.h"

#ifdef RINGNET_HAVE_IO_URING
#include <liburing.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace rn {

#ifndef RINGNET_HAVE_IO_URING

int uring_probe(uring_caps* caps, const char** reason) {
  *caps = uring_caps{};
  *reason = "this build of ringnet has no io_uring backend (built without liburing)";
  return -ENOSYS;
}

#else

namespace {

// Not in liburing 2.3's headers; stable kernel ABI (include/uapi/linux/io_uring.h).
constexpr uint16_t kPbufRingInc = 2;

// kernel.io_uring_disabled: 0 = allowed, 1 = only for io_uring_group, 2 = off.
int sysctl_disabled() {
  int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;  // older kernels have no such switch
  char b[8] = {0};
  ssize_t n = read(fd, b, sizeof(b) - 1);
  close(fd);
  return n > 0 ? atoi(b) : 0;
}

// Registers a one-entry buffer ring with `flags`; 0 or -errno. Unregistered again.
int try_buf_ring(io_uring* ring, uint16_t flags, void* mem) {
  io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = reinterpret_cast<uintptr_t>(mem);
  reg.ring_entries = 1;
  reg.bgid = 0;
  reg.pad = flags;  // `flags` in newer headers
  int r = io_uring_register_buf_ring(ring, &reg, 0);
  if (r == 0) io_uring_unregister_buf_ring(ring, 0);
  return r;
}

// Multishot recv is a flag on IORING_OP_RECV, invisible to the opcode probe: ask
// the kernel on a socket pair. true if a CQE came back with IORING_CQE_F_MORE.
bool try_recv_multishot(io_uring* ring, void* ring_mem) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return false;
  static char byte_buf[16];
  auto* br = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = reinterpret_cast<uintptr_t>(ring_mem);
  reg.ring_entries = 1;
  reg.bgid = 1;
  bool ok = false;
  if (io_uring_register_buf_ring(ring, &reg, 0) == 0) {
    io_uring_buf_ring_init(br);
    io_uring_buf_ring_add(br, byte_buf, sizeof(byte_buf), 0, 0, 0);
    io_uring_buf_ring_advance(br, 1);
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 1;
    sqe->user_data = 1;
    ssize_t w = write(sv[1], "x", 1);
    (void)w;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_submit_and_wait(ring, 1) >= 0 && io_uring_peek_cqe(ring, &cqe) == 0) {
      ok = cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE);
      io_uring_cqe_seen(ring, cqe);
    }
    // Closing the pair ends the recv; the ring is torn down by the caller anyway.
    io_uring_unregister_buf_ring(ring, 1);
  }
  close(sv[0]);
  close(sv[1]);
  return ok;
}

}  // namespace

int uring_probe(uring_caps* caps, const char** reason) {
  *caps = uring_caps{};
  const char* off = getenv("RINGNET_IO_URING_DISABLE");
  if (off && *off && strcmp(off, "0") != 0) {
    *reason = "io_uring turned off by RINGNET_IO_URING_DISABLE";
    return -ENOSYS;
  }
  if (sysctl_disabled() == 2) {
    *reason = "io_uring is disabled by the kernel (kernel.io_uring_disabled = 2)";
    return -EPERM;
  }
  io_uring ring;
  int r = io_uring_queue_init(8, &ring, 0);
  if (r < 0) {
    if (r == -ENOSYS) {
      *reason = "io_uring_setup: ENOSYS (kernel without io_uring, or a seccomp profile that hides it)";
    } else if (r == -EPERM) {
      *reason = "io_uring_setup: EPERM (kernel.io_uring_disabled = 1 and not in io_uring_group, or a seccomp profile)";
    } else {
      *reason = "io_uring_setup failed";
    }
    return r;
  }
  caps->features = ring.features;
  int err = 0;
  io_uring_probe* pr = io_uring_get_probe_ring(&ring);
  if (!pr) {
    *reason = "io_uring: IORING_REGISTER_PROBE failed (kernel older than 5.6)";
    err = -ENOTSUP;
  } else {
    static const int need[] = {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_POLL_ADD,
                               IORING_OP_ASYNC_CANCEL};
    for (int op : need) {
      if (!io_uring_opcode_supported(pr, op)) {
        *reason = "io_uring: the kernel lacks an opcode ringnet needs (accept, recv, sendmsg, poll, cancel)";
        err = -ENOTSUP;
        break;
      }
    }
    io_uring_free_probe(pr);
  }
  void* mem = nullptr;
  if (err == 0) {
    mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      mem = nullptr;
      *reason = "mmap failed";
      err = -ENOMEM;
    }
  }
  if (err == 0) {
    int b = try_buf_ring(&ring, 0, mem);
    if (b < 0) {
      *reason = "io_uring: the kernel lacks provided buffer rings (Linux 5.19+)";
      err = -ENOTSUP;
    } else {
      caps->accept_multishot = true;  // arrived in 5.19 with buffer rings
      caps->buf_inc = try_buf_ring(&ring, kPbufRingInc, mem) == 0;
      caps->recv_multishot = try_recv_multishot(&ring, mem);
    }
  }
  if (mem) munmap(mem, 4096);
  io_uring_queue_exit(&ring);
  if (err == 0) *reason = "";
  return err;
}

#endif

}  // namespace rn
