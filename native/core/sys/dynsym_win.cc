// sys/dynsym.h on Windows: GetProcAddress on the host executable (node.exe), the
// module whose export table the win32 addon's OpenSSL imports are bound to
// (scripts/build-win.js links them against an import library for NODE.EXE).
#include <windows.h>

#include <cstdint>

#include "sys/dynsym.h"

namespace rn {

void* dynsym_find(const char* name) {
  HMODULE host = GetModuleHandleW(nullptr);
  if (!host) return nullptr;
  FARPROC p = GetProcAddress(host, name);
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p));
}

}  // namespace rn
