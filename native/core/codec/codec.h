// Framing codecs: cut an inbound byte stream into frames (issue 12), natively.
// Pure functions over a byte range: no allocation, no OS calls, no state kept
// between calls (a decoder is called again from the start of the unconsumed
// bytes when more arrive), so they are safe on any bytes a peer sends.
//
//   int rc = rn::codec_next(spec, p, n, &frame);
//   rc == 1: a frame; payload p[frame.start, frame.start + frame.len), consume frame.consumed
//   rc == 0: need more bytes (n is a prefix of a frame, and under the frame limit)
//   rc < 0 : -EMSGSIZE, the frame is over its max (or its length field over 2^32-1);
//            -EINVAL, the length field is negative after adjustment / the spec is bad.
//
// The loop integration (onMessage(conn, frame) batched with the other events,
// conn.writeFrame) is built on these; one file per codec: length_field.cc,
// delimiter.cc, fixed.cc, line.cc.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rn {

enum codec_kind : uint8_t { CODEC_NONE = 0, CODEC_LENGTH_FIELD = 1, CODEC_DELIMITER = 2, CODEC_FIXED = 3, CODEC_LINE = 4 };

// Netty's LengthFieldBasedFrameDecoder: a length field of `length_size` bytes
// at `length_offset`; frame = length_offset + length_size + value + adjustment
// bytes; `strip` bytes are dropped from the frame's front (e.g. the header).
struct length_field_spec {
  uint32_t length_offset = 0;
  uint8_t length_size = 4;  // 1, 2, 3, 4 or 8
  bool big_endian = true;
  int64_t adjustment = 0;   // added to the field's value (e.g. -4 when it counts itself)
  uint32_t strip = 0;       // bytes removed from the frame's start
  uint32_t max_frame = 1u << 20;
};

constexpr int kMaxDelimiters = 4;
constexpr int kMaxDelimiterLen = 16;

// Netty's DelimiterBasedFrameDecoder: the frame ends at the first (earliest)
// of up to 4 delimiters; the delimiter is stripped or kept; max_frame bounds
// the frame without its delimiter.
struct delimiter_spec {
  uint8_t count = 0;
  uint8_t len[kMaxDelimiters] = {};
  uint8_t bytes[kMaxDelimiters][kMaxDelimiterLen] = {};
  bool strip = true;
  uint32_t max_frame = 1u << 16;
};

// Every frame is `size` bytes.
struct fixed_spec {
  uint32_t size = 0;
};

// Lines ending in LF or CRLF (the CR is part of the terminator); strip drops it.
struct line_spec {
  bool strip = true;
  uint32_t max_frame = 1u << 16;
};

struct codec_spec {
  codec_kind kind = CODEC_NONE;
  length_field_spec lf;
  delimiter_spec delim;
  fixed_spec fixed;
  line_spec line;
};

struct frame {
  size_t start = 0;     // payload offset in the input
  size_t len = 0;       // payload bytes
  size_t consumed = 0;  // bytes the frame occupies in the stream (header, payload, delimiter)
};

int length_field_next(const length_field_spec& s, const uint8_t* p, size_t n, frame* out);
int delimiter_next(const delimiter_spec& s, const uint8_t* p, size_t n, frame* out);
int fixed_next(const fixed_spec& s, const uint8_t* p, size_t n, frame* out);
int line_next(const line_spec& s, const uint8_t* p, size_t n, frame* out);

// The encoder side of the length field (conn.writeFrame): writes the header
// that precedes a payload of `payload_len` bytes into hdr (room for
// length_offset + 8 bytes; bytes before the field are zero) and returns its
// length, or -EMSGSIZE when the payload does not fit the field or max_frame.
int length_field_encode(const length_field_spec& s, size_t payload_len, uint8_t* hdr, size_t hdr_cap);

// What a frame that codec_next refused (-EMSGSIZE, -EINVAL) measures, for error
// messages: a length field's frame size (header + value + adjustment; it may be
// negative or past 2^32), or for the other codecs the bytes buffered without a
// frame end. Pure, like codec_next.
int64_t codec_frame_size(const codec_spec& s, const uint8_t* p, size_t n);

// The most bytes one frame of s can occupy in the stream (header and delimiter
// included): what a connection must be able to buffer to deliver it.
uint64_t codec_max_stream_bytes(const codec_spec& s);

// Whether the spec is usable (sizes, limits); 0 or -EINVAL.
int codec_validate(const codec_spec& s);

// Dispatch on s.kind; CODEC_NONE returns -EINVAL.
int codec_next(const codec_spec& s, const uint8_t* p, size_t n, frame* out);

}  // namespace rn
