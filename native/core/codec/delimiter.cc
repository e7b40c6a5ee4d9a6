// Delimiter framing (see codec.h): the earliest of the delimiters ends a frame.
#include <cerrno>
#include <cstring>

#include "codec/codec.h"

namespace rn {

int delimiter_next(const delimiter_spec& s, const uint8_t* p, size_t n, frame* out) {
  // Only max_frame + the longest delimiter bytes can hold a legal frame's end.
  size_t longest = 0;
  for (int d = 0; d < s.count; d++) longest = s.len[d] > longest ? s.len[d] : longest;
  const size_t window = static_cast<size_t>(s.max_frame) + longest;
  const size_t scan = n < window ? n : window;
  for (size_t i = 0; i < scan; i++) {
    for (int d = 0; d < s.count; d++) {
      const size_t l = s.len[d];
      if (p[i] != s.bytes[d][0] || i + l > n) continue;
      if (l > 1 && memcmp(p + i + 1, s.bytes[d] + 1, l - 1) != 0) continue;
      if (i > s.max_frame) return -EMSGSIZE;
      out->start = 0;
      out->len = s.strip ? i : i + l;
      out->consumed = i + l;
      return 1;
    }
  }
  // No delimiter: over the limit already, or wait (a delimiter may be split).
  if (n >= window) return -EMSGSIZE;
  return 0;
}

}  // namespace rn
