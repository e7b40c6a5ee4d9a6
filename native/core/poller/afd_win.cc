// See afd_win.h. ntdll functions come from GetProcAddress, looked up once.
#include "poller/afd_win.h"

#include <mswsock.h>

#include <cstdint>

namespace rn {
namespace afd {

namespace {

using NtCreateFile_t = NTSTATUS(NTAPI*)(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES, PIO_STATUS_BLOCK, PLARGE_INTEGER,
                                        ULONG, ULONG, ULONG, ULONG, PVOID, ULONG);
using NtDeviceIoControlFile_t = NTSTATUS(NTAPI*)(HANDLE, HANDLE, PVOID, PVOID, PIO_STATUS_BLOCK, ULONG, PVOID, ULONG,
                                                 PVOID, ULONG);
using NtCancelIoFileEx_t = NTSTATUS(NTAPI*)(HANDLE, PIO_STATUS_BLOCK, PIO_STATUS_BLOCK);
using RtlNtStatusToDosError_t = ULONG(NTAPI*)(NTSTATUS);

struct ntdll {
  NtCreateFile_t create = nullptr;
  NtDeviceIoControlFile_t ioctl = nullptr;
  NtCancelIoFileEx_t cancel = nullptr;
  RtlNtStatusToDosError_t to_dos = nullptr;
  bool ok = false;
  ntdll() {
    HMODULE m = GetModuleHandleW(L"ntdll.dll");
    if (!m) return;
    create = reinterpret_cast<NtCreateFile_t>(reinterpret_cast<void*>(GetProcAddress(m, "NtCreateFile")));
    ioctl = reinterpret_cast<NtDeviceIoControlFile_t>(reinterpret_cast<void*>(GetProcAddress(m, "NtDeviceIoControlFile")));
    cancel = reinterpret_cast<NtCancelIoFileEx_t>(reinterpret_cast<void*>(GetProcAddress(m, "NtCancelIoFileEx")));
    to_dos = reinterpret_cast<RtlNtStatusToDosError_t>(reinterpret_cast<void*>(GetProcAddress(m, "RtlNtStatusToDosError")));
    ok = create && ioctl && cancel && to_dos;
  }
};

const ntdll& nt() {
  static const ntdll n;
  return n;
}

constexpr NTSTATUS kPending = 0x00000103;

}  // namespace

DWORD status_to_win32(NTSTATUS st) { return nt().ok ? nt().to_dos(st) : ERROR_INVALID_FUNCTION; }

DWORD open(HANDLE port, ULONG_PTR key, HANDLE* out) {
  if (!nt().ok) return ERROR_PROC_NOT_FOUND;
  static wchar_t name[] = L"\\Device\\Afd\\ringnet";
  UNICODE_STRING us;
  us.Buffer = name;
  us.Length = static_cast<USHORT>((sizeof(name) / sizeof(wchar_t) - 1) * sizeof(wchar_t));
  us.MaximumLength = us.Length;
  OBJECT_ATTRIBUTES oa;
  InitializeObjectAttributes(&oa, &us, 0, nullptr, nullptr);
  IO_STATUS_BLOCK iosb;
  HANDLE h = nullptr;
  NTSTATUS st = nt().create(&h, SYNCHRONIZE, &oa, &iosb, nullptr, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0,
                            nullptr, 0);
  if (st != 0) return status_to_win32(st);
  if (!CreateIoCompletionPort(h, port, key, 0)) {
    DWORD e = GetLastError();
    CloseHandle(h);
    return e;
  }
  // A poll that completes at once still queues its completion; it must not also
  // signal the handle.
  SetFileCompletionNotificationModes(h, FILE_SKIP_SET_EVENT_ON_HANDLE);
  *out = h;
  return 0;
}

DWORD poll(HANDLE afd, IO_STATUS_BLOCK* iosb, poll_info* info, SOCKET base, ULONG events) {
  info->timeout.QuadPart = INT64_MAX;
  info->count = 1;
  info->exclusive = FALSE;
  info->handles[0].handle = reinterpret_cast<HANDLE>(base);
  info->handles[0].events = events;
  info->handles[0].status = 0;
  iosb->Status = kPending;
  NTSTATUS st = nt().ioctl(afd, nullptr, nullptr, iosb, iosb, IOCTL_POLL, info, sizeof(*info), info, sizeof(*info));
  if (st == 0 || st == kPending) return 0;
  return status_to_win32(st);
}

DWORD cancel(HANDLE afd, IO_STATUS_BLOCK* iosb) {
  if (iosb->Status != kPending) return 0;  // completed already
  IO_STATUS_BLOCK c;
  NTSTATUS st = nt().cancel(afd, iosb, &c);
  if (st == 0 || st == static_cast<NTSTATUS>(0xC0000225) /* STATUS_NOT_FOUND: done meanwhile */) return 0;
  return status_to_win32(st);
}

SOCKET base_socket(SOCKET s) {
  SOCKET base = INVALID_SOCKET;
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_BASE_HANDLE, nullptr, 0, &base, sizeof(base), &bytes, nullptr, nullptr) != 0) return s;
  return base;
}

}  // namespace afd
}  // namespace rn
