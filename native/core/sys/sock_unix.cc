// Unix domain stream sockets (issue 10): sockaddr_un for sock_posix.cc, the
// stale-file rule before bind, the file mode, removal on close, peer credentials.
#include "sys/sock_unix.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rn.h"
#include "sys/sock_os.h"

namespace rn {

int sock_parse_unix(const char* path, addr* out) {
  size_t n = strlen(path);
  if (n == 0) return -EINVAL;
  if (n >= sizeof(sockaddr_un::sun_path) || n >= sizeof(out->host)) return -ENAMETOOLONG;
  if (path[0] == '@' && (n < 2 || !sock_os_has_abstract())) return n < 2 ? -EINVAL : -EAFNOSUPPORT;
  *out = addr{};
  out->family = kFamilyUnix;
  memcpy(out->host, path, n);
  return 0;
}

socklen_t unix_to_sockaddr(const addr& a, sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  sockaddr_un* un = reinterpret_cast<sockaddr_un*>(ss);
  un->sun_family = AF_UNIX;
  size_t n = strnlen(a.host, sizeof(un->sun_path) - 1);
  memcpy(un->sun_path, a.host, n);
  if (a.host[0] == '@') {
    un->sun_path[0] = '\0';  // abstract: the name's length is the address's, no NUL
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  }
  return static_cast<socklen_t>(sizeof(sockaddr_un));
}

void unix_from_sockaddr(const sockaddr_storage& ss, socklen_t len, addr* out) {
  const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(&ss);
  *out = addr{};
  out->family = kFamilyUnix;
  size_t off = offsetof(sockaddr_un, sun_path);
  if (len <= off) return;  // unnamed (an accepted or a client socket)
  size_t n = len - off;
  if (n > sizeof(out->host) - 1) n = sizeof(out->host) - 1;
  if (un->sun_path[0] == '\0') {
    out->host[0] = '@';
    if (n > 1) memcpy(out->host + 1, un->sun_path + 1, n - 1 < sizeof(out->host) - 2 ? n - 1 : sizeof(out->host) - 2);
  } else {
    memcpy(out->host, un->sun_path, strnlen(un->sun_path, n));
  }
}

int unix_prepare_bind(const addr& a) {
  if (a.host[0] == '@') return 0;  // abstract names leave no file behind
  struct stat st;
  if (lstat(a.host, &st) != 0) return errno == ENOENT ? 0 : neg_errno();
  // Something else under that name (a regular file, a directory): never removed.
  if (!S_ISSOCK(st.st_mode)) return -EADDRINUSE;
  // A socket file: live if someone accepts on it, stale (its process died without
  // removing it) if a connect is refused. Only a stale one is replaced.
  int fd = sock_os_socket(AF_UNIX);
  if (fd < 0) return fd;
  sockaddr_storage ss;
  socklen_t len = unix_to_sockaddr(a, &ss);
  int r = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  int err = r == 0 ? 0 : errno;
  close(fd);
  if (r == 0 || err == EAGAIN || err == EINPROGRESS) return -EADDRINUSE;
  if (err != ECONNREFUSED) return -err;
  return unlink(a.host) == 0 || errno == ENOENT ? 0 : neg_errno();
}

int unix_after_bind(const addr& a, int mode) {
  if (a.host[0] == '@' || mode < 0) return 0;
  return chmod(a.host, static_cast<mode_t>(mode)) == 0 ? 0 : neg_errno();
}

int sock_peercred(sock_t fd, peer_cred* out) {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return neg_errno();
  if (ss.ss_family != AF_UNIX) return -ENOTSUP;
  return sock_os_peercred(fd, &out->pid, &out->uid, &out->gid);
}

}  // namespace rn
