#include "io/io_uring.h"

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>

#include <cstring>
#include <new>
#include <vector>

#include "rn.h"

namespace rn {

namespace {
// Not in liburing 2.3's headers; stable kernel ABI (include/uapi/linux/io_uring.h).
constexpr uint16_t kPbufRingInc = 2;           // IOU_PBUF_RING_INC (6.12)
constexpr uint32_t kCqeBufMore = 1u << 4;      // IORING_CQE_F_BUF_MORE
constexpr uint16_t kBufGroup = 0;
}  // namespace

struct uring {
  io_uring ring;
  uring_caps caps;
  uint8_t* bufs = nullptr;
  uint32_t buf_size = 0, buf_count = 0;
  io_uring_buf_ring* br = nullptr;
  size_t br_bytes = 0;
  // With incremental buffers a slice is filled piece by piece: where the next
  // piece of each buffer begins (the kernel does not say).
  std::vector<uint32_t> filled;
  uint32_t free_bufs = 0;
  bool ring_ok = false;

  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (s) return s;
    if (io_uring_submit(&ring) < 0) return nullptr;
    return io_uring_get_sqe(&ring);
  }
};

int uring_create(const uring_params& p, const uring_caps& caps, uring** out) {
  if (p.bufs && (p.buf_count == 0 || (p.buf_count & (p.buf_count - 1)) || p.buf_count > 32768 || p.buf_size == 0))
    return -EINVAL;
  uring* u = new (std::nothrow) uring();
  if (!u) return -ENOMEM;
  u->caps = caps;
  io_uring_params params;
  memset(&params, 0, sizeof(params));
  // Multishot requests can post many completions per submission; NODROP (5.5)
  // keeps any beyond the CQ until it is drained, a larger CQ makes that rare.
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = p.entries * 4;
  // COOP_TASKRUN (5.19): a completion's task work waits for this thread's next
  // syscall instead of interrupting it with an IPI. Without it every arriving
  // packet interrupted the loop: 50 x 64 B echo cost 20.5 CPU us/req against
  // epoll's 11.5; with it 11.6. TASKRUN_FLAG makes liburing enter the kernel to
  // run that work when the CQ looks empty. A sleeping thread is still woken
  // (libuv's epoll_wait on the ring fd sees the completions). DEFER_TASKRUN is
  // not used: a ring fd polled by epoll is then never reported ready here.
  params.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int err = io_uring_queue_init_params(p.entries, &u->ring, &params);
  if (err == -EINVAL) {  // kernels before 5.19
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = p.entries * 4;
    err = io_uring_queue_init_params(p.entries, &u->ring, &params);
  }
  if (err < 0) {
    delete u;
    return err;
  }
  u->ring_ok = true;
  if (p.bufs) {
    u->bufs = p.bufs;
    u->buf_size = p.buf_size;
    u->buf_count = p.buf_count;
    u->br_bytes = (sizeof(io_uring_buf) * p.buf_count + 4095) & ~size_t{4095};
    void* mem = mmap(nullptr, u->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      uring_destroy(u);
      return -ENOMEM;
    }
    u->br = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = reinterpret_cast<uintptr_t>(mem);
    reg.ring_entries = p.buf_count;
    reg.bgid = kBufGroup;
    reg.pad = caps.buf_inc ? kPbufRingInc : 0;  // `flags` in newer headers
    err = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (err < 0 && caps.buf_inc) {
      u->caps.buf_inc = false;
      reg.pad = 0;
      err = io_uring_register_buf_ring(&u->ring, &reg, 0);
    }
    if (err < 0) {
      munmap(mem, u->br_bytes);
      u->br = nullptr;
      uring_destroy(u);
      return err;
    }
    u->filled.assign(p.buf_count, 0);
    io_uring_buf_ring_init(u->br);
    for (uint32_t i = 0; i < p.buf_count; i++) uring_buf_return(u, static_cast<uint16_t>(i));
  }
  *out = u;
  return 0;
}

void uring_destroy(uring* u) {
  if (!u) return;
  // The ring goes first: its teardown cancels the requests that use the buffers.
  if (u->ring_ok) io_uring_queue_exit(&u->ring);
  if (u->br) munmap(u->br, u->br_bytes);
  delete u;
}

int uring_fd(const uring* u) { return u->ring.ring_fd; }

const uring_caps& uring_caps_of(const uring* u) { return u->caps; }

int uring_accept(uring* u, int lfd, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  if (u->caps.accept_multishot) {
    io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } else {
    io_uring_prep_accept(s, lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  }
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_recv(uring* u, int fd, uint64_t ud) {
  if (!u->br) return -EINVAL;
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  if (u->caps.recv_multishot) {
    io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
  } else {
    io_uring_prep_recv(s, fd, nullptr, 0, 0);
  }
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufGroup;
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_sendmsg(uring* u, int fd, const msghdr* m, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  io_uring_prep_sendmsg(s, fd, m, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_poll_read(uring* u, int fd, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  io_uring_prep_poll_multishot(s, fd, POLLIN);
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_poll_once(uring* u, int fd, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  io_uring_prep_poll_add(s, fd, POLLIN);
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_poll_write(uring* u, int fd, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  io_uring_prep_poll_add(s, fd, POLLOUT);
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_poll_error(uring* u, int fd, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  io_uring_prep_poll_add(s, fd, POLLERR | POLLHUP | POLLRDHUP);
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

bool uring_poll_hung_up(int32_t res) { return res > 0 && (res & (POLLERR | POLLHUP)) != 0; }

int uring_cancel(uring* u, uint64_t target, uint64_t ud) {
  io_uring_sqe* s = u->sqe();
  if (!s) return -EBUSY;
  io_uring_prep_cancel64(s, target, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(s, ud);
  return 0;
}

int uring_submit(uring* u) {
  int r = io_uring_submit(&u->ring);
  return r == -EINTR ? 0 : r;
}

int uring_wait(uring* u, int timeout_ms) {
  io_uring_cqe* cqe = nullptr;
  int r = io_uring_submit(&u->ring);
  if (r < 0 && r != -EINTR) return r;
  if (timeout_ms < 0) {
    r = io_uring_wait_cqe(&u->ring, &cqe);
  } else {
    __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
    r = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
  }
  return r == -EINTR ? 0 : r;
}

int uring_reap(uring* u, uring_event* out, int max) {
  io_uring_cqe* cqes[256];
  int total = 0;
  while (total < max) {
    unsigned want = static_cast<unsigned>(max - total);
    if (want > 256) want = 256;
    unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, want);
    if (n == 0) break;
    for (unsigned i = 0; i < n; i++) {
      const io_uring_cqe* c = cqes[i];
      uring_event& e = out[total++];
      e.ud = c->user_data;
      e.res = c->res;
      e.flags = (c->flags & IORING_CQE_F_MORE) ? uint32_t{URING_MORE} : 0u;
      e.buf = 0;
      e.data = nullptr;
      if ((c->flags & IORING_CQE_F_BUFFER) && u->br) {
        uint32_t bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
        if (bid < u->buf_count) {
          e.flags |= URING_BUF;
          e.buf = static_cast<uint16_t>(bid);
          e.data = u->bufs + static_cast<size_t>(bid) * u->buf_size + u->filled[bid];
          bool more = u->caps.buf_inc && (c->flags & kCqeBufMore);
          if (more) {
            e.flags |= URING_BUF_MORE;
            if (c->res > 0) u->filled[bid] += static_cast<uint32_t>(c->res);
          } else {
            u->filled[bid] = 0;
            u->free_bufs--;
          }
        }
      }
    }
    io_uring_cq_advance(&u->ring, n);
  }
  return total;
}

void uring_buf_return(uring* u, uint16_t buf) {
  if (!u->br || buf >= u->buf_count) return;
  io_uring_buf_ring_add(u->br, u->bufs + static_cast<size_t>(buf) * u->buf_size, u->buf_size, buf,
                        io_uring_buf_ring_mask(u->buf_count), 0);
  io_uring_buf_ring_advance(u->br, 1);
  u->free_bufs++;
}

uint32_t uring_bufs_free(const uring* u) { return u->free_bufs; }

}  // namespace rn
