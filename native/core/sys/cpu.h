// CPU affinity: which CPUs the process may use (as it was started, e.g. under
// taskset), and pinning the calling thread to one of them.
#pragma once
#include <vector>

namespace rn {

// CPUs in the affinity mask the process had when this library was loaded.
std::vector<int> cpu_allowed();
// Pin the calling thread to the i-th allowed CPU (i mod count); returns the CPU or -errno.
int cpu_pin_current(int index);
// CPUs the calling thread may run on now.
std::vector<int> cpu_current();
// The calling thread's OS id (Linux tid), for /proc/self/task/<tid>.
long cpu_thread_id();

}  // namespace rn
