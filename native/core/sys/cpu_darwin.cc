#include "sys/cpu.h"

#include <cerrno>

namespace rn {

// macOS has no hard affinity; pinning is a no-op there.
std::vector<int> cpu_allowed() { return {}; }
int cpu_pin_current(int) { return -ENOSYS; }
std::vector<int> cpu_current() { return {}; }
long cpu_thread_id() { return -1; }

}  // namespace rn
