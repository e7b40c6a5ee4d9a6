// Codec specs for the tests (test_codec.cc: the decoders alone; test_loop_codec.cc:
// on a loop), built and checked the same way in both.
#pragma once
#include <cstring>
#include <initializer_list>
#include <string>

#include "check.h"
#include "codec/codec.h"

namespace specs {

inline rn::codec_spec lf(uint32_t off, uint8_t size, bool be, int64_t adj, uint32_t strip, uint32_t max = 1 << 20) {
  rn::codec_spec s;
  s.kind = rn::CODEC_LENGTH_FIELD;
  s.lf.length_offset = off;
  s.lf.length_size = size;
  s.lf.big_endian = be;
  s.lf.adjustment = adj;
  s.lf.strip = strip;
  s.lf.max_frame = max;
  CHECK_EQ(rn::codec_validate(s), 0);
  return s;
}

inline rn::codec_spec delim(std::initializer_list<std::string> ds, bool strip = true, uint32_t max = 1 << 16) {
  rn::codec_spec s;
  s.kind = rn::CODEC_DELIMITER;
  for (const std::string& d : ds) {
    s.delim.len[s.delim.count] = static_cast<uint8_t>(d.size());
    memcpy(s.delim.bytes[s.delim.count], d.data(), d.size());
    s.delim.count++;
  }
  s.delim.strip = strip;
  s.delim.max_frame = max;
  CHECK_EQ(rn::codec_validate(s), 0);
  return s;
}

inline rn::codec_spec line(bool strip = true, uint32_t max = 1 << 16) {
  rn::codec_spec s;
  s.kind = rn::CODEC_LINE;
  s.line.strip = strip;
  s.line.max_frame = max;
  CHECK_EQ(rn::codec_validate(s), 0);
  return s;
}

inline rn::codec_spec fixed(uint32_t size) {
  rn::codec_spec s;
  s.kind = rn::CODEC_FIXED;
  s.fixed.size = size;
  CHECK_EQ(rn::codec_validate(s), 0);
  return s;
}

}  // namespace specs
