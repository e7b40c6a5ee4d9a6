// Windows error codes (Winsock WSAE*, Win32 ERROR_*) as the negative errno values
// the rest of the core speaks, so errno_name() gives the same code names
// (EADDRINUSE, ECONNRESET, ...) on every OS. mingw's <errno.h> defines the POSIX
// socket errno values (EADDRINUSE = 100, ...); the core never compares against
// WSAE* itself.
#pragma once
#ifdef _WIN32

namespace rn {

// err: a WSAGetLastError() / GetLastError() value. Returns -errno (-EIO if unknown).
int win_errno(unsigned long err);
// -errno for the calling thread's last Winsock error.
int wsa_errno();

}  // namespace rn
#endif
