// Framing codecs (native/core/codec): each codec's rules, frames split at every
// byte, many frames in one buffer, limits, the length-field encoder round trip,
// and random garbage (must never read out of bounds: run under ASan too).
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "codec/codec.h"
#include "codec_specs.h"

using rn::codec_next;
using rn::codec_spec;
using rn::frame;

namespace {

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Decode everything in `in` as it would be in a stream; payloads in order.
std::vector<std::string> drain(const codec_spec& s, const std::vector<uint8_t>& in, int* last_rc = nullptr, size_t* left = nullptr) {
  std::vector<std::string> out;
  size_t off = 0;
  int rc = 0;
  for (;;) {
    frame f;
    rc = codec_next(s, in.data() + off, in.size() - off, &f);
    if (rc != 1) break;
    CHECK(f.consumed > 0);
    CHECK(f.start + f.len <= f.consumed);
    out.emplace_back(reinterpret_cast<const char*>(in.data() + off + f.start), f.len);
    off += f.consumed;
  }
  if (last_rc) *last_rc = rc;
  if (left) *left = in.size() - off;
  return out;
}

// Every prefix of a stream of whole frames decodes to a prefix of the frames and
// asks for more (never an error), and the whole stream decodes to all of them.
void split_everywhere(const codec_spec& s, const std::vector<uint8_t>& stream, const std::vector<std::string>& want) {
  for (size_t cut = 0; cut <= stream.size(); cut++) {
    std::vector<uint8_t> part(stream.begin(), stream.begin() + static_cast<long>(cut));
    int rc = 0;
    auto got = drain(s, part, &rc);
    CHECK_EQ(rc, 0);
    CHECK(got.size() <= want.size());
    for (size_t i = 0; i < got.size(); i++) CHECK_EQ(got[i], want[i]);
  }
  size_t left = 1;
  auto got = drain(s, stream, nullptr, &left);
  CHECK_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++) CHECK_EQ(got[i], want[i]);
  CHECK_EQ(left, 0u);
}

using specs::lf;

std::vector<uint8_t> encode(const codec_spec& s, const std::vector<std::string>& payloads) {
  std::vector<uint8_t> out;
  for (const auto& p : payloads) {
    uint8_t hdr[64];
    int h = rn::length_field_encode(s.lf, p.size(), hdr, sizeof hdr);
    CHECK(h > 0);
    out.insert(out.end(), hdr, hdr + h);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

}  // namespace

TEST(length_field_u16_be_strip_header_split_everywhere) {
  auto s = lf(0, 2, true, 0, 2);
  std::vector<std::string> want = {"hello", "", "x", std::string(300, 'z')};
  auto stream = encode(s, want);
  CHECK_EQ(stream[0], 0);
  CHECK_EQ(stream[1], 5);
  split_everywhere(s, stream, want);
}

TEST(length_field_all_sizes_both_endians_round_trip) {
  for (uint8_t size : {1, 2, 3, 4, 8}) {
    for (bool be : {true, false}) {
      auto s = lf(0, size, be, 0, size);
      std::vector<std::string> want = {"a", std::string(200, 'b'), "ccc"};
      CHECK(drain(s, encode(s, want)) == want);
    }
  }
  // little-endian u32 on the wire
  auto s = lf(0, 4, false, 0, 4);
  auto e = encode(s, {"abc"});
  CHECK_EQ(e[0], 3);
  CHECK_EQ(e[3], 0);
}

TEST(length_field_offset_adjustment_keep_header) {
  // [magic:2][len:4 counting the whole frame][payload]: adjustment -6, strip 0 keeps the header
  auto s = lf(2, 4, true, -6, 0);
  std::vector<uint8_t> in = {0xca, 0xfe, 0, 0, 0, 9, 'a', 'b', 'c', 0xca, 0xfe, 0, 0, 0, 6};
  int rc = 0;
  auto got = drain(s, in, &rc);
  CHECK_EQ(got.size(), 2u);
  CHECK_EQ(got[0].size(), 9u);
  CHECK_EQ(got[0].substr(6), std::string("abc"));
  CHECK_EQ(got[1].size(), 6u);
  // an adjustment that makes the frame shorter than its header is an error
  std::vector<uint8_t> bad = {0xca, 0xfe, 0, 0, 0, 1};
  frame f;
  CHECK_EQ(codec_next(s, bad.data(), bad.size(), &f), -EINVAL);
  // the encoder writes what the decoder reads
  CHECK(drain(s, encode(s, {"hello"})) == std::vector<std::string>{std::string("\0\0\0\0\0\x0bhello", 11)});
}

TEST(length_field_max_frame_and_huge_fields) {
  auto s = lf(0, 4, true, 0, 4, 100);
  std::vector<uint8_t> in = {0, 0, 0, 97};  // 4 + 97 > 100: refused before the body arrives
  frame f;
  CHECK_EQ(codec_next(s, in.data(), in.size(), &f), -EMSGSIZE);
  in = {0, 0, 0, 96};
  CHECK_EQ(codec_next(s, in.data(), in.size(), &f), 0);
  auto s8 = lf(0, 8, true, 0, 8);
  std::vector<uint8_t> big = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK_EQ(codec_next(s8, big.data(), big.size(), &f), -EMSGSIZE);
  uint8_t hdr[16];
  CHECK_EQ(rn::length_field_encode(s.lf, 97, hdr, sizeof hdr), -EMSGSIZE);
  auto s1 = lf(0, 1, true, 0, 1);
  CHECK_EQ(rn::length_field_encode(s1.lf, 256, hdr, sizeof hdr), -EMSGSIZE);
  CHECK_EQ(rn::length_field_encode(s1.lf, 255, hdr, sizeof hdr), 1);
}

TEST(delimiter_several_strip_keep_split_everywhere) {
  codec_spec s = specs::delim({"\r\n", "|||"}, true, 64);
  split_everywhere(s, bytes("one\r\ntwo|||\r\n||three\r\n"), {"one", "two", "", "||three"});
  s.delim.strip = false;
  split_everywhere(s, bytes("a|||b\r\n"), {"a|||", "b\r\n"});
}

TEST(delimiter_max_frame) {
  codec_spec s = specs::delim({";"}, true, 8);
  frame f;
  auto ok = bytes("12345678;");
  CHECK_EQ(codec_next(s, ok.data(), ok.size(), &f), 1);
  CHECK_EQ(f.len, 8u);
  auto bad = bytes("123456789;");
  CHECK_EQ(codec_next(s, bad.data(), bad.size(), &f), -EMSGSIZE);
  auto pending = bytes("12345678");
  CHECK_EQ(codec_next(s, pending.data(), pending.size(), &f), 0);
  auto over = bytes("123456789");
  CHECK_EQ(codec_next(s, over.data(), over.size(), &f), -EMSGSIZE);
}

TEST(fixed_split_everywhere) {
  codec_spec s = specs::fixed(3);
  split_everywhere(s, bytes("abcdefghi"), {"abc", "def", "ghi"});
  s.fixed.size = 0;
  CHECK_EQ(rn::codec_validate(s), -EINVAL);
}

TEST(line_lf_crlf_split_everywhere_and_max) {
  codec_spec s = specs::line(true, 10);
  split_everywhere(s, bytes("a\r\nbb\n\r\n\nccc\r\r\n"), {"a", "bb", "", "", "ccc\r"});
  s.line.strip = false;
  split_everywhere(s, bytes("a\r\nb\n"), {"a\r\n", "b\n"});
  s.line.strip = true;
  frame f;
  auto ten = bytes("0123456789\r\n");
  CHECK_EQ(codec_next(s, ten.data(), ten.size(), &f), 1);
  CHECK_EQ(f.len, 10u);
  auto eleven = bytes("0123456789X\n");
  CHECK_EQ(codec_next(s, eleven.data(), eleven.size(), &f), -EMSGSIZE);
  auto pending = bytes("0123456789\r");
  CHECK_EQ(codec_next(s, pending.data(), pending.size(), &f), 0);
  auto endless = bytes("0123456789ab");
  CHECK_EQ(codec_next(s, endless.data(), endless.size(), &f), -EMSGSIZE);
}

TEST(bad_specs_are_refused) {
  codec_spec s;
  CHECK_EQ(rn::codec_validate(s), -EINVAL);  // CODEC_NONE
  frame f;
  CHECK_EQ(codec_next(s, nullptr, 0, &f), -EINVAL);
  s = lf(0, 4, true, 0, 0);
  s.lf.length_size = 5;
  CHECK_EQ(rn::codec_validate(s), -EINVAL);
  s.kind = rn::CODEC_DELIMITER;
  s.delim.count = 1;
  s.delim.len[0] = 0;
  CHECK_EQ(rn::codec_validate(s), -EINVAL);
}

// Random bytes through every codec: results stay inside the input, nothing
// reads past it (ASan), and an answer never changes when more bytes follow a
// complete frame.
TEST(garbage_never_escapes_the_input) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto rnd = [&]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::vector<codec_spec> all = {lf(0, 1, true, 0, 1, 64), lf(3, 2, false, -2, 1, 300), lf(0, 8, true, 5, 0, 1000), lf(1, 3, true, 0, 4, 1 << 16)};
  all.push_back(specs::delim({std::string(1, '\0'), "\x01\x02"}, true, 20));
  all.push_back(specs::line(true, 30));
  all.push_back(specs::fixed(7));
  for (int iter = 0; iter < 20000; iter++) {
    const size_t n = rnd() % 80;
    std::vector<uint8_t> buf(n);  // exactly n bytes: ASan sees any read past them
    for (auto& b : buf) b = static_cast<uint8_t>(rnd() % 4 == 0 ? rnd() % 4 : rnd());
    for (const auto& s : all) {
      frame f;
      const int rc = codec_next(s, buf.data(), n, &f);
      CHECK(rc == 1 || rc == 0 || rc == -EMSGSIZE || rc == -EINVAL);
      if (rc == 1) {
        CHECK(f.consumed <= n);
        CHECK(f.start + f.len <= f.consumed);
        std::vector<uint8_t> more(buf);
        more.push_back(0x55);
        frame g;
        CHECK_EQ(codec_next(s, more.data(), more.size(), &g), 1);
        CHECK_EQ(g.consumed, f.consumed);
        CHECK_EQ(g.len, f.len);
      }
    }
  }
}

int main(int argc, char** argv) { return check::run(argc, argv); }
