#include "rn.h"

#include <cstring>

namespace rn {

const char* errno_name(int err) {
  switch (err) {
#define X(e) case e: return #e;
    X(EADDRINUSE) X(EADDRNOTAVAIL) X(EACCES) X(EPERM) X(EAFNOSUPPORT) X(EINVAL)
    X(ECONNRESET) X(ECONNREFUSED) X(ECONNABORTED) X(EPIPE) X(ETIMEDOUT) X(EAGAIN)
    X(EMFILE) X(ENFILE) X(ENOBUFS) X(ENOMEM) X(EBADF) X(ENOTCONN) X(ENOTSOCK)
    X(ENETUNREACH) X(EHOSTUNREACH) X(ENOENT) X(EINTR) X(EIO) X(ENOSYS) X(EEXIST)
    X(EALREADY) X(EINPROGRESS) X(EMSGSIZE) X(ENOSPC) X(EOVERFLOW) X(ESHUTDOWN)
    X(EPROTO) X(ENOTSUP) X(ECANCELED) X(ENAMETOOLONG)
#undef X
    default: return "UNKNOWN";
  }
}

const char* errno_text(int err) {
#ifdef _WIN32
  // msvcrt's strerror knows only the C runtime's codes (up to ERANGE): it says
  // "Unknown error" for the POSIX socket codes mingw's errno.h adds. Their usual texts:
  switch (err) {
    case EADDRINUSE: return "Address already in use";
    case EADDRNOTAVAIL: return "Cannot assign requested address";
    case EAFNOSUPPORT: return "Address family not supported by protocol";
    case ECONNRESET: return "Connection reset by peer";
    case ECONNREFUSED: return "Connection refused";
    case ECONNABORTED: return "Software caused connection abort";
    case ETIMEDOUT: return "Connection timed out";
    case ENOBUFS: return "No buffer space available";
    case ENOTCONN: return "Transport endpoint is not connected";
    case ENOTSOCK: return "Socket operation on non-socket";
    case ENETUNREACH: return "Network is unreachable";
    case EHOSTUNREACH: return "No route to host";
    case EALREADY: return "Operation already in progress";
    case EINPROGRESS: return "Operation now in progress";
    case EMSGSIZE: return "Message too long";
    case EOVERFLOW: return "Value too large for defined data type";
    case ESHUTDOWN: return "Cannot send after transport endpoint shutdown";
    case EPROTO: return "Protocol error";
    case ENOTSUP: return "Operation not supported";
    case ECANCELED: return "Operation canceled";
    case EWOULDBLOCK: return "Resource temporarily unavailable";
    default: break;
  }
#endif
  return strerror(err);
}

}  // namespace rn
