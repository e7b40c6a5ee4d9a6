// CPU affinity on Windows: the process mask (GetProcessAffinityMask, e.g. from
// `start /affinity`) and SetThreadAffinityMask. Only the calling process's
// processor group (at most 64 CPUs) is seen, which is what these calls cover.
#include <windows.h>

#include <cstdint>
#include <vector>

#include "sys/cpu.h"
#include "rn.h"

namespace rn {

namespace {

std::vector<int> bits(DWORD_PTR m) {
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(sizeof(m) * 8); i++)
    if (m & (static_cast<DWORD_PTR>(1) << i)) out.push_back(i);
  return out;
}

DWORD_PTR process_mask() {
  DWORD_PTR proc = 0, sys = 0;
  if (!GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys) || proc == 0) return 1;
  return proc;
}

// As the process was started: captured when the library loads.
const DWORD_PTR g_initial = process_mask();

}  // namespace

std::vector<int> cpu_allowed() { return bits(g_initial); }

int cpu_pin_current(int index) {
  std::vector<int> cpus = cpu_allowed();
  if (cpus.empty() || index < 0) return -EINVAL;
  int cpu = cpus[static_cast<size_t>(index) % cpus.size()];
  DWORD_PTR m = static_cast<DWORD_PTR>(1) << cpu;
  if (SetThreadAffinityMask(GetCurrentThread(), m) == 0) return -EINVAL;
  return cpu;
}

std::vector<int> cpu_current() {
  // There is no getter: set the process mask, read the previous mask, restore it.
  HANDLE t = GetCurrentThread();
  DWORD_PTR prev = SetThreadAffinityMask(t, process_mask());
  if (prev == 0) return cpu_allowed();
  SetThreadAffinityMask(t, prev);
  return bits(prev);
}

long cpu_thread_id() { return static_cast<long>(GetCurrentThreadId()); }

}  // namespace rn
