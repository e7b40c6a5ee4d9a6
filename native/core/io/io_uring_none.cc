// The io_uring engine in a build without liburing (RINGNET_HAVE_IO_URING unset):
// nothing can be created, so loops stay on their readiness backend. uring_probe
// already answers ENOSYS there; these keep the loop free of #ifdefs.
#include "io/io_uring.h"

#include <cerrno>

namespace rn {

int uring_create(const uring_params&, const uring_caps&, uring**) { return -ENOSYS; }
void uring_destroy(uring*) {}
int uring_fd(const uring*) { return -1; }
int uring_accept(uring*, int, uint64_t) { return -ENOSYS; }
int uring_recv(uring*, int, uint64_t) { return -ENOSYS; }
int uring_sendmsg(uring*, int, const msghdr*, uint64_t) { return -ENOSYS; }
int uring_poll_read(uring*, int, uint64_t) { return -ENOSYS; }
int uring_poll_once(uring*, int, uint64_t) { return -ENOSYS; }
int uring_poll_error(uring*, int, uint64_t) { return -ENOSYS; }
int uring_poll_write(uring*, int, uint64_t) { return -ENOSYS; }
bool uring_poll_hung_up(int32_t) { return false; }
int uring_cancel(uring*, uint64_t, uint64_t) { return -ENOSYS; }
int uring_submit(uring*) { return -ENOSYS; }
int uring_wait(uring*, int) { return -ENOSYS; }
int uring_reap(uring*, uring_event*, int) { return 0; }
void uring_buf_return(uring*, uint16_t) {}
uint32_t uring_bufs_free(const uring*) { return 0; }
const uring_caps& uring_caps_of(const uring*) {
  static const uring_caps none;
  return none;
}

#ifndef __linux__
// Linux builds get this from sys/uring_probe_linux.cc (with or without liburing).
int uring_probe(uring_caps* caps, const char** reason) {
  *caps = uring_caps{};
  *reason = "io_uring exists only on Linux";
  return -ENOSYS;
}
#endif

}  // namespace rn
