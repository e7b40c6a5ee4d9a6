// Run-time symbol lookup in the process (the node binary's exports included):
// dlsym(RTLD_DEFAULT) on POSIX (dynsym_posix.cc), GetProcAddress on the host
// executable on Windows (dynsym_win.cc). Used to check that a library the addon
// leaves to the host (OpenSSL) is really there before the first call into it.
#pragma once

namespace rn {

// The address of the global symbol `name`, or nullptr when the process has none.
void* dynsym_find(const char* name);

}  // namespace rn
