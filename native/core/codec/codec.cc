// Codec dispatch and spec validation (see codec.h).
#include "codec/codec.h"

#include <cerrno>
#include <cstdint>

namespace rn {

int codec_validate(const codec_spec& s) {
  switch (s.kind) {
    case CODEC_LENGTH_FIELD: {
      const auto& l = s.lf;
      if (l.length_size != 1 && l.length_size != 2 && l.length_size != 3 && l.length_size != 4 && l.length_size != 8) return -EINVAL;
      if (l.length_offset > (1u << 16) || l.max_frame == 0) return -EINVAL;
      if (l.adjustment < -(int64_t{1} << 32) || l.adjustment > (int64_t{1} << 32)) return -EINVAL;
      return 0;
    }
    case CODEC_DELIMITER: {
      const auto& d = s.delim;
      if (d.count == 0 || d.count > kMaxDelimiters || d.max_frame == 0) return -EINVAL;
      for (int i = 0; i < d.count; i++)
        if (d.len[i] == 0 || d.len[i] > kMaxDelimiterLen) return -EINVAL;
      return 0;
    }
    case CODEC_FIXED:
      return s.fixed.size == 0 ? -EINVAL : 0;
    case CODEC_LINE:
      return s.line.max_frame == 0 ? -EINVAL : 0;
    default:
      return -EINVAL;
  }
}

int codec_next(const codec_spec& s, const uint8_t* p, size_t n, frame* out) {
  switch (s.kind) {
    case CODEC_LENGTH_FIELD: return length_field_next(s.lf, p, n, out);
    case CODEC_DELIMITER: return delimiter_next(s.delim, p, n, out);
    case CODEC_FIXED: return fixed_next(s.fixed, p, n, out);
    case CODEC_LINE: return line_next(s.line, p, n, out);
    default: return -EINVAL;
  }
}

int64_t codec_frame_size(const codec_spec& s, const uint8_t* p, size_t n) {
  if (s.kind == CODEC_LENGTH_FIELD) {
    const auto& l = s.lf;
    const size_t head = static_cast<size_t>(l.length_offset) + l.length_size;
    if (n < head) return static_cast<int64_t>(n);
    uint64_t v = 0;
    const uint8_t* f = p + l.length_offset;
    for (int i = 0; i < l.length_size; i++) v = l.big_endian ? (v << 8) | f[i] : v | (uint64_t{f[i]} << (8 * i));
    if (v > (uint64_t{1} << 62)) return INT64_MAX;
    return static_cast<int64_t>(head) + static_cast<int64_t>(v) + l.adjustment;
  }
  if (s.kind == CODEC_FIXED) return s.fixed.size;
  return static_cast<int64_t>(n);
}

uint64_t codec_max_stream_bytes(const codec_spec& s) {
  switch (s.kind) {
    case CODEC_LENGTH_FIELD: return s.lf.max_frame;
    case CODEC_DELIMITER: {
      uint64_t longest = 0;
      for (int i = 0; i < s.delim.count; i++) longest = s.delim.len[i] > longest ? s.delim.len[i] : longest;
      return uint64_t{s.delim.max_frame} + longest;
    }
    case CODEC_FIXED: return s.fixed.size;
    case CODEC_LINE: return uint64_t{s.line.max_frame} + 2;
    default: return 0;
  }
}

}  // namespace rn
