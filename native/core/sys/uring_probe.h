// Can this process use io_uring, and which of its newer features? Asked once per
// loop before it picks a backend (issue 9): a kernel built without io_uring answers
// ENOSYS, kernel.io_uring_disabled answers EPERM, and so does a seccomp profile that
// blocks io_uring_setup (Docker's default one does).
#pragma once
#include <cstdint>

namespace rn {

struct uring_caps {
  bool recv_multishot = false;   // IORING_RECV_MULTISHOT (Linux 6.0)
  bool accept_multishot = false; // IORING_ACCEPT_MULTISHOT (Linux 5.19)
  bool buf_inc = false;          // IOU_PBUF_RING_INC: a provided buffer is filled piece by piece (6.12)
  uint32_t features = 0;         // IORING_FEAT_* of a fresh ring
};

// 0 and *caps filled when io_uring is usable here; otherwise -errno (-ENOSYS,
// -EPERM, -ENOTSUP when the kernel lacks something the backend needs) and *reason
// says why in words. The environment variable RINGNET_IO_URING_DISABLE=1 makes it
// answer -ENOSYS, so the fallback path can be tested on a kernel that has io_uring.
// Always -ENOSYS in a build without liburing (RINGNET_HAVE_IO_URING undefined).
int uring_probe(uring_caps* caps, const char** reason);

}  // namespace rn
