// A loop's framing codecs (issue 12): the table of codec specs its connections
// use, and the frames buffer each batch's frame lists are written to. Private to
// native/core/loop/ (loop_impl.h holds one of these; loop_codec.cc works it).
#pragma once
#include <cstdint>
#include <vector>

#include "codec/codec.h"
#include "mem/bufpool.h"

namespace rn {

struct codec_entry {
  codec_spec spec;
  // The inbound cap of a connection with this codec: at least the loop's
  // inbound_limit, and room for the largest frame the spec allows, so a frame
  // over the inbound limit but within max_frame is still read whole.
  uint32_t cap = 0;
};

constexpr uint32_t kMaxCodecs = 64;
constexpr uint32_t kMinFrameRecords = 4096;  // the frames buffer's least size, in FR_STRIDE records

struct codec_state {
  std::vector<codec_entry> table;  // codec id - 1
  uint16_t accept = 0;             // codec of accepted and adopted connections (0: none)
  inbuf frames;                    // the frames buffer (a host buffer JS views by id)
  uint32_t frames_cap = 0;         // in Int32 words
  uint32_t frames_used = 0;        // words written in the batch being built
  std::vector<uint64_t> refeed;    // (gen << 32 | slot): frames left over by a full buffer
  bool active() const { return !table.empty(); }
};

}  // namespace rn
