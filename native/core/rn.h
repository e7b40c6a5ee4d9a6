// ringnet native core: shared definitions. No Node headers anywhere under core/.
// Every core function returns 0 (or a non-negative count) on success and a
// negative errno on failure; nothing throws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cerrno>

#ifdef _WIN32
// mingw's <errno.h> has the POSIX socket codes (EADDRINUSE, ...) but not these.
#ifndef ESHUTDOWN
#define ESHUTDOWN 1108  // WSAESHUTDOWN - 9000, out of the CRT's range
#endif
#endif

namespace rn {

// Name of a (positive) errno value, e.g. "EADDRINUSE"; "UNKNOWN" if not known.
const char* errno_name(int err);
// Its text, as strerror gives it on Linux (strerror, except on Windows where the C
// runtime does not know the socket codes).
const char* errno_text(int err);

inline int neg_errno() { return errno ? -errno : -EIO; }

}  // namespace rn
