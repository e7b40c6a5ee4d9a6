// The loop's clock: monotonic milliseconds (never goes back, unaffected by
// wall-clock changes). clock_posix.cc; a Windows port adds clock_win.cc.
#pragma once
#include <cstdint>

namespace rn {

uint64_t mono_ms();

}  // namespace rn
