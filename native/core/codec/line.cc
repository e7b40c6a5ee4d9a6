// Line framing (see codec.h): LF or CRLF ends a line.
#include <cerrno>
#include <cstring>

#include "codec/codec.h"

namespace rn {

int line_next(const line_spec& s, const uint8_t* p, size_t n, frame* out) {
  // A line of max_frame bytes may be followed by CR LF: look that far, no further.
  if (n == 0) return 0;
  const size_t window = static_cast<size_t>(s.max_frame) + 2;
  const size_t scan = n < window ? n : window;
  const void* lf = memchr(p, '\n', scan);
  if (lf == nullptr) return n >= window ? -EMSGSIZE : 0;
  const size_t i = static_cast<size_t>(static_cast<const uint8_t*>(lf) - p);
  const size_t body = i > 0 && p[i - 1] == '\r' ? i - 1 : i;
  if (body > s.max_frame) return -EMSGSIZE;
  out->start = 0;
  out->len = s.strip ? body : i + 1;
  out->consumed = i + 1;
  return 1;
}

}  // namespace rn
