// UDP batches on Linux: recvmmsg / sendmmsg, one syscall per batch (sys/udp.h).
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <new>

#include "rn.h"
#include "sys/udp_os.h"

namespace rn {

struct udp_io {
  int n = 0;
  mmsghdr* hdr = nullptr;
  iovec* iov = nullptr;
  sockaddr_storage* names = nullptr;
};

int udp_os_socket(int af) {
  int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd >= 0 ? fd : neg_errno();
}

udp_io* udp_io_new(int n) {
  if (n <= 0) return nullptr;
  udp_io* io = new (std::nothrow) udp_io;
  if (!io) return nullptr;
  io->n = n;
  io->hdr = new (std::nothrow) mmsghdr[n];
  io->iov = new (std::nothrow) iovec[n];
  io->names = new (std::nothrow) sockaddr_storage[n];
  if (!io->hdr || !io->iov || !io->names) {
    udp_io_free(io);
    return nullptr;
  }
  return io;
}

void udp_io_free(udp_io* io) {
  if (!io) return;
  delete[] io->hdr;
  delete[] io->iov;
  delete[] io->names;
  delete io;
}

int udp_recv(sock_t fd, udp_io* io, udp_msg* m, int n) {
  if (n > io->n) n = io->n;
  for (int i = 0; i < n; i++) {
    io->iov[i].iov_base = m[i].data;
    io->iov[i].iov_len = m[i].cap;
    msghdr& h = io->hdr[i].msg_hdr;
    memset(&h, 0, sizeof(h));
    h.msg_name = &io->names[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &io->iov[i];
    h.msg_iovlen = 1;
    io->hdr[i].msg_len = 0;
  }
  int r = recvmmsg(fd, io->hdr, static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  if (r < 0) return neg_errno();
  if (r == 0) return -EAGAIN;
  for (int i = 0; i < r; i++) {
    m[i].len = io->hdr[i].msg_len;
    m[i].truncated = (io->hdr[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    if (udp_from_sockaddr(io->names[i], &m[i].peer) < 0) m[i].peer = udp_addr{};
  }
  return r;
}

int udp_send(sock_t fd, udp_io* io, const udp_msg* m, int n) {
  if (n > io->n) n = io->n;
  for (int i = 0; i < n; i++) {
    io->iov[i].iov_base = m[i].data;
    io->iov[i].iov_len = m[i].len;
    msghdr& h = io->hdr[i].msg_hdr;
    memset(&h, 0, sizeof(h));
    h.msg_name = &io->names[i];
    h.msg_namelen = udp_to_sockaddr(m[i].peer, &io->names[i]);
    h.msg_iov = &io->iov[i];
    h.msg_iovlen = 1;
  }
  int r = sendmmsg(fd, io->hdr, static_cast<unsigned>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (r < 0) return neg_errno();
  return r;
}

}  // namespace rn
