// FreeBSD: cpuset(2). The process's set is captured when the library loads (before
// any loop narrows its own thread's set), as on Linux.
#include "sys/cpu.h"

#include <cerrno>

#include <pthread.h>
#include <pthread_np.h>
#include <sys/param.h>
#include <sys/cpuset.h>

namespace rn {

namespace {

std::vector<int> members(const cpuset_t& set) {
  std::vector<int> v;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) v.push_back(i);
  return v;
}

const std::vector<int>& initial() {
  static const std::vector<int> v = [] {
    cpuset_t set;
    CPU_ZERO(&set);
    if (cpuset_getaffinity(CPU_LEVEL_WHICH, CPU_WHICH_PID, -1, sizeof(set), &set) != 0) return std::vector<int>{};
    return members(set);
  }();
  return v;
}
[[maybe_unused]] const bool captured = !initial().empty();

}  // namespace

std::vector<int> cpu_allowed() { return initial(); }

int cpu_pin_current(int index) {
  const std::vector<int>& cpus = initial();
  if (cpus.empty()) return -ENOSYS;
  int cpu = cpus[static_cast<size_t>(index) % cpus.size()];
  cpuset_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // id -1 with CPU_WHICH_TID: the calling thread.
  if (cpuset_setaffinity(CPU_LEVEL_WHICH, CPU_WHICH_TID, -1, sizeof(set), &set) != 0) return -errno;
  return cpu;
}

std::vector<int> cpu_current() {
  cpuset_t set;
  CPU_ZERO(&set);
  if (cpuset_getaffinity(CPU_LEVEL_WHICH, CPU_WHICH_TID, -1, sizeof(set), &set) != 0) return {};
  return members(set);
}

long cpu_thread_id() { return static_cast<long>(pthread_getthreadid_np()); }

}  // namespace rn
