// macOS has no hard CPU affinity. A loop thread gets a Mach affinity tag instead
// (thread_policy_set(THREAD_AFFINITY_POLICY)): threads with different tags are
// placed apart, with different L2 caches where the machine has them. Intel Macs
// honour it; Apple silicon returns KERN_NOT_SUPPORTED, and then it is a no-op.
// Either way no thread is bound to a CPU, so cpu_pin_current reports -ENOTSUP and
// the engine shows the loop as not pinned.
#include "sys/cpu.h"

#include <cerrno>

#include <mach/mach.h>
#include <mach/thread_policy.h>
#include <pthread.h>
#include <unistd.h>

namespace rn {

std::vector<int> cpu_allowed() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<int> v;
  for (long i = 0; i < n; i++) v.push_back(static_cast<int>(i));
  return v;
}

int cpu_pin_current(int index) {
  thread_affinity_policy_data_t tag;
  tag.affinity_tag = index + 1;  // 0 is THREAD_AFFINITY_TAG_NULL: "no tag"
  mach_port_t self = pthread_mach_thread_np(pthread_self());
  thread_policy_set(self, THREAD_AFFINITY_POLICY, reinterpret_cast<thread_policy_t>(&tag),
                    THREAD_AFFINITY_POLICY_COUNT);
  return -ENOTSUP;
}

std::vector<int> cpu_current() { return cpu_allowed(); }

long cpu_thread_id() {
  uint64_t id = 0;
  pthread_threadid_np(nullptr, &id);
  return static_cast<long>(id);
}

}  // namespace rn
