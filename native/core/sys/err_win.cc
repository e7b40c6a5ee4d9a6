#include "sys/err_win.h"

#include <winsock2.h>
#include <windows.h>

#include "rn.h"

namespace rn {

int win_errno(unsigned long err) {
  switch (err) {
    case 0: return 0;
    case WSAEADDRINUSE: return -EADDRINUSE;
    case WSAEADDRNOTAVAIL: return -EADDRNOTAVAIL;
    case WSAEACCES:
    case ERROR_ACCESS_DENIED: return -EACCES;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT: return -EAFNOSUPPORT;
    case WSAEINVAL:
    case WSAEFAULT:
    case ERROR_INVALID_PARAMETER: return -EINVAL;
    case WSAECONNRESET:
    case WSAENETRESET:
    case ERROR_NETNAME_DELETED: return -ECONNRESET;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED: return -ECONNREFUSED;
    case WSAECONNABORTED:
    case ERROR_CONNECTION_ABORTED: return -ECONNABORTED;
    case WSAESHUTDOWN: return -EPIPE;  // send after shutdown(SD_SEND): POSIX says EPIPE
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT: return -ETIMEDOUT;
    case WSAEWOULDBLOCK: return -EAGAIN;
    case WSAEMFILE: return -EMFILE;
    case WSAENOBUFS: return -ENOBUFS;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY: return -ENOMEM;
    case WSAEBADF:
    case ERROR_INVALID_HANDLE: return -EBADF;
    case WSAENOTCONN: return -ENOTCONN;
    case WSAENOTSOCK: return -ENOTSOCK;
    case WSAENETUNREACH:
    case WSAENETDOWN:
    case ERROR_NETWORK_UNREACHABLE: return -ENETUNREACH;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
    case ERROR_HOST_UNREACHABLE: return -EHOSTUNREACH;
    case WSAEINTR:
    case ERROR_OPERATION_ABORTED: return -ECANCELED;
    case WSAEINPROGRESS: return -EINPROGRESS;
    case WSAEALREADY: return -EALREADY;
    case WSAEMSGSIZE: return -EMSGSIZE;
    case WSAEOPNOTSUPP:
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
    case ERROR_NOT_SUPPORTED: return -ENOTSUP;
    case WSAENAMETOOLONG: return -ENAMETOOLONG;
    case WSAEISCONN: return -EISCONN;
    case WSASYSNOTREADY:
    case WSANOTINITIALISED: return -ENOSYS;
    default: return -EIO;
  }
}

int wsa_errno() { return win_errno(static_cast<unsigned long>(WSAGetLastError())); }

}  // namespace rn
