// UDP batches where there is no recvmmsg / sendmmsg (macOS): the same contract as
// udp_mmsg_linux.cc, one recvmsg / sendmsg per datagram (sys/udp.h).
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>

#include "rn.h"
#include "sys/udp_os.h"

namespace rn {

struct udp_io {
  int n = 0;
};

int udp_os_socket(int af) {
  int fd = socket(af, SOCK_DGRAM, 0);
  if (fd < 0) return neg_errno();
  int fl = fcntl(fd, F_GETFL, 0);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    int err = neg_errno();
    close(fd);
    return err;
  }
#ifdef SO_NOSIGPIPE
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  return fd;
}

udp_io* udp_io_new(int n) {
  if (n <= 0) return nullptr;
  udp_io* io = new (std::nothrow) udp_io;
  if (io) io->n = n;
  return io;
}

void udp_io_free(udp_io* io) { delete io; }

int udp_recv(sock_t fd, udp_io* io, udp_msg* m, int n) {
  if (n > io->n) n = io->n;
  int got = 0;
  for (; got < n; got++) {
    sockaddr_storage ss;
    iovec v{m[got].data, m[got].cap};
    msghdr h{};
    h.msg_name = &ss;
    h.msg_namelen = sizeof(ss);
    h.msg_iov = &v;
    h.msg_iovlen = 1;
    ssize_t r = recvmsg(fd, &h, 0);
    if (r < 0) {
      if (got > 0) break;
      return errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
    }
    m[got].len = static_cast<uint32_t>(r);
    m[got].truncated = (h.msg_flags & MSG_TRUNC) != 0;
    if (udp_from_sockaddr(ss, &m[got].peer) < 0) m[got].peer = udp_addr{};
  }
  return got;
}

int udp_send(sock_t fd, udp_io* io, const udp_msg* m, int n) {
  if (n > io->n) n = io->n;
  int sent = 0;
  for (; sent < n; sent++) {
    sockaddr_storage ss;
    iovec v{m[sent].data, m[sent].len};
    msghdr h{};
    h.msg_name = &ss;
    h.msg_namelen = udp_to_sockaddr(m[sent].peer, &ss);
    h.msg_iov = &v;
    h.msg_iovlen = 1;
    if (sendmsg(fd, &h, 0) < 0) {
      if (sent > 0) break;
      return errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
    }
  }
  return sent;
}

}  // namespace rn
