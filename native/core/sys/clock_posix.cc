#include "sys/clock.h"

#include <time.h>

namespace rn {

uint64_t mono_ms() {
  timespec ts;
  // CLOCK_MONOTONIC cannot fail with a valid pointer; Linux's vDSO makes it a few ns.
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

}  // namespace rn
