// The AFD poll interface (\Device\Afd, IOCTL_AFD_POLL): the undocumented but
// long-stable ioctl under select()/WSAPoll that wepoll, libuv (uv_poll) and mio use
// for readiness on Windows. One poll request names one socket (its base handle) and
// the events wanted; it completes, once, on the I/O completion port the AFD handle
// is associated with, when one of them holds (at once if one holds already).
// Windows only; ntdll entry points are looked up at run time (no import library).
#pragma once
#ifdef _WIN32
#include <winsock2.h>
#include <windows.h>
#include <winternl.h>

namespace rn {
namespace afd {

enum : ULONG {
  POLL_RECEIVE = 0x0001,
  POLL_RECEIVE_EXPEDITED = 0x0002,
  POLL_SEND = 0x0004,
  POLL_DISCONNECT = 0x0008,  // the peer sent FIN
  POLL_ABORT = 0x0010,       // reset
  POLL_LOCAL_CLOSE = 0x0020, // our handle was closed
  POLL_ACCEPT = 0x0080,
  POLL_CONNECT_FAIL = 0x0100,
};

constexpr ULONG IOCTL_POLL = 0x00012024;

struct poll_handle_info {
  HANDLE handle;
  ULONG events;
  NTSTATUS status;
};

struct poll_info {
  LARGE_INTEGER timeout;
  ULONG count;
  ULONG exclusive;
  poll_handle_info handles[1];
};

// Opens \Device\Afd\ringnet and associates it with `port` (completion key `key`).
// 0 or a Win32 error code.
DWORD open(HANDLE port, ULONG_PTR key, HANDLE* out);
// Submits a poll for `base` (a base socket handle) with `events`; iosb doubles as the
// completion's lpOverlapped. Returns a Win32 error (0 = submitted, pending or done).
DWORD poll(HANDLE afd, IO_STATUS_BLOCK* iosb, poll_info* info, SOCKET base, ULONG events);
// Cancels the poll whose iosb is given; its completion still arrives (STATUS_CANCELLED).
DWORD cancel(HANDLE afd, IO_STATUS_BLOCK* iosb);
// The base service provider socket (SIO_BASE_HANDLE), what AFD polls must name.
SOCKET base_socket(SOCKET s);
// NTSTATUS -> Win32 error.
DWORD status_to_win32(NTSTATUS st);

}  // namespace afd
}  // namespace rn
#endif
