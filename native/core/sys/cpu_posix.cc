#include "sys/cpu.h"

#include <cerrno>

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace rn {

#ifdef __linux__
namespace {
std::vector<int> mask_of(const cpu_set_t& set) {
  std::vector<int> v;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) v.push_back(i);
  return v;
}
// Captured once, from the thread that loads the addon (the main thread), before
// any loop pins itself: later threads inherit narrower masks.
const std::vector<int>& initial() {
  static const std::vector<int> v = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return std::vector<int>{};
    return mask_of(set);
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
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  return err == 0 ? cpu : -err;
}

std::vector<int> cpu_current() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0) return {};
  return mask_of(set);
}

long cpu_thread_id() { return static_cast<long>(syscall(SYS_gettid)); }
#else
// macOS has no hard affinity; pinning is a no-op there.
std::vector<int> cpu_allowed() { return {}; }
int cpu_pin_current(int) { return -ENOSYS; }
std::vector<int> cpu_current() { return {}; }
long cpu_thread_id() { return -1; }
#endif

}  // namespace rn
