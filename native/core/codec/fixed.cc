// Fixed-size framing (see codec.h).
#include <cerrno>

#include "codec/codec.h"

namespace rn {

int fixed_next(const fixed_spec& s, const uint8_t* /*p*/, size_t n, frame* out) {
  if (s.size == 0) return -EINVAL;
  if (n < s.size) return 0;
  out->start = 0;
  out->len = s.size;
  out->consumed = s.size;
  return 1;
}

}  // namespace rn
