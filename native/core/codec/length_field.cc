// Length-field framing (see codec.h).
#include <cerrno>

#include "codec/codec.h"

namespace rn {

int length_field_next(const length_field_spec& s, const uint8_t* p, size_t n, frame* out) {
  const size_t head = static_cast<size_t>(s.length_offset) + s.length_size;
  if (n < head) return 0;
  uint64_t v = 0;
  const uint8_t* f = p + s.length_offset;
  if (s.big_endian) {
    for (int i = 0; i < s.length_size; i++) v = (v << 8) | f[i];
  } else {
    for (int i = s.length_size - 1; i >= 0; i--) v = (v << 8) | f[i];
  }
  if (v > 0xffffffffull) return -EMSGSIZE;  // also keeps the sums below from overflowing
  const int64_t total = static_cast<int64_t>(head) + static_cast<int64_t>(v) + s.adjustment;
  if (total < static_cast<int64_t>(head)) return -EINVAL;  // the adjustment ate the header
  if (total > static_cast<int64_t>(s.max_frame)) return -EMSGSIZE;
  if (static_cast<uint64_t>(total) < s.strip) return -EINVAL;
  if (n < static_cast<uint64_t>(total)) return 0;
  out->start = s.strip;
  out->len = static_cast<size_t>(total) - s.strip;
  out->consumed = static_cast<size_t>(total);
  return 1;
}

int length_field_encode(const length_field_spec& s, size_t payload_len, uint8_t* hdr, size_t hdr_cap) {
  const size_t head = static_cast<size_t>(s.length_offset) + s.length_size;
  if (hdr_cap < head) return -EINVAL;
  // The field holds frame - head - adjustment, where frame = head + payload.
  const int64_t value = static_cast<int64_t>(payload_len) - s.adjustment;
  if (value < 0) return -EINVAL;
  if (static_cast<uint64_t>(head) + payload_len > s.max_frame) return -EMSGSIZE;
  if (s.length_size < 8 && static_cast<uint64_t>(value) >> (8 * s.length_size) != 0) return -EMSGSIZE;
  for (size_t i = 0; i < s.length_offset; i++) hdr[i] = 0;
  uint64_t v = static_cast<uint64_t>(value);
  uint8_t* f = hdr + s.length_offset;
  for (int i = 0; i < s.length_size; i++) {
    const int shift = 8 * (s.big_endian ? s.length_size - 1 - i : i);
    f[i] = static_cast<uint8_t>(v >> shift);
  }
  return static_cast<int>(head);
}

}  // namespace rn
