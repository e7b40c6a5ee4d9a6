// Framing codecs on a real loop (issue 12, loop/loop_codec.cc): the frame lists
// each batch carries (CT_FRAMES, FR_*), partial frames kept across reads, more
// frames than one batch's frames buffer (FR_MORE, another EV_DATA), a frame
// larger than the inbound limit, bad frames (FR_TOO_LARGE / FR_INVALID and the
// close), dialed connections with their own codec, and garbage from the host.
#include <string>
#include <vector>

#include "codec_specs.h"
#include "loop_fixture.h"

using namespace fixture;

namespace {

std::string lf32(const std::string& p) {
  std::string h(4, '\0');
  uint32_t n = static_cast<uint32_t>(p.size());
  for (int i = 0; i < 4; i++) h[static_cast<size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  return h + p;
}

// What the host (lib/loop.ts) does with a codec connection's EV_DATA: read its
// frame list, take each frame and move CT_START past it.
struct framed_host {
  std::vector<std::string> frames;
  std::vector<int32_t> statuses;
  int32_t last_detail = 0;
  size_t lists = 0, more = 0;

  void on_data(test_loop& t, uint32_t slot) {
    int32_t* r = t.row(slot);
    int32_t h = r[CT_FRAMES];
    if (h < 0) {  // no room for the list this batch: another EV_DATA follows
      more++;
      return;
    }
    const int32_t* fr = reinterpret_cast<const int32_t*>(t.alloc.ptr(loop_frames_id(t.l)));
    lists++;
    int32_t count = fr[h], status = fr[h + 1];
    statuses.push_back(status);
    if (status == FR_MORE) more++;
    if (status == FR_TOO_LARGE || status == FR_INVALID) last_detail = fr[h + 2];
    if (count == 0) return;
    const uint8_t* buf = t.alloc.ptr(r[CT_BUF]);
    for (int32_t k = 0; k < count; k++) {
      const int32_t* rec = fr + h + FR_STRIDE * (k + 1);
      CHECK(rec[0] >= r[CT_START] && rec[0] + rec[1] <= rec[2] && rec[2] <= r[CT_END]);
      frames.emplace_back(reinterpret_cast<const char*>(buf + rec[0]), static_cast<size_t>(rec[1]));
      r[CT_START] = rec[2];
    }
  }
};

// A loop whose accepted connections use `spec`.
void use_codec(test_loop& t, const codec_spec& spec) {
  int id = loop_add_codec(t.l, spec);
  CHECK(id >= 1);
  CHECK_EQ(loop_set_accept_codec(t.l, id), 0);
  CHECK(loop_frames_id(t.l) >= 0);
}

}  // namespace

// Bytes sent one at a time, each its own read: the frames come out whole, each in
// the batch its last byte arrived in, and nothing is held once they are taken.
TEST(partial_frames_across_reads) {
  test_loop t;
  use_codec(t, specs::lf(0, 4, true, 0, 4));
  client c(t.bound);
  framed_host fh;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type == EV_DATA) fh.on_data(tl, static_cast<uint32_t>(e.slot));
  };
  std::vector<std::string> want = {"hello", "", "a frame", std::string(300, 'z')};
  std::string stream;
  for (const auto& w : want) stream += lf32(w);
  for (size_t i = 0; i < stream.size(); i++) {
    c.send(stream.substr(i, 1));
    CHECK(drive(t, {&c}, [&] { return t.stat(ST_BYTES_IN) == static_cast<double>(i + 1); }));
  }
  CHECK(fh.frames == want);
  CHECK(fh.lists >= stream.size() - 1);  // (a read may rarely take two bytes)
  CHECK_EQ(loop_count(t.l), 1u);
}

// 20000 two-byte frames in one go, 4096 records a batch (events_cap 16), 8192
// frames a 16 KiB read: several batches per read,
// every frame once and in order, and the FIN behind them closes the connection
// only after the last one was delivered.
TEST(many_frames_more_than_one_batch_then_fin) {
  test_loop t;
  use_codec(t, specs::delim({";"}));
  client c(t.bound);
  framed_host fh;
  size_t frames_at_close = 0;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type == EV_DATA) fh.on_data(tl, static_cast<uint32_t>(e.slot));
    if (e.type == EV_CLOSE) frames_at_close = fh.frames.size();
  };
  std::vector<std::string> want;
  std::string stream;
  for (int i = 0; i < 20000; i++) {
    want.push_back(std::to_string(i % 10));
    stream += want.back() + ";";
  }
  c.send(stream);
  c.shutdown_after_send();
  CHECK(drive(t, {&c}, [&] { return t.count(EV_CLOSE) == 1; }));
  CHECK(fh.frames == want);
  CHECK_EQ(frames_at_close, want.size());
  CHECK(fh.more > 0);
  CHECK_EQ(t.of_type(EV_CLOSE)[0].arg, 0);
}

// inbound_limit 32 KiB, a 300 KiB frame (max 1 MiB): reading does not stop at the
// limit with a partial frame held; the frame is delivered whole.
TEST(frame_over_the_inbound_limit) {
  loop_config cfg = small_config();
  cfg.inbound_limit = 32 * 1024;
  test_loop t(cfg);
  use_codec(t, specs::lf(0, 4, true, 0, 4, 1 << 20));
  client c(t.bound);
  framed_host fh;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type == EV_DATA) fh.on_data(tl, static_cast<uint32_t>(e.slot));
  };
  std::string big = random_bytes(300 * 1024, 7);
  c.send(lf32(big) + lf32("tail"));
  CHECK(drive(t, {&c}, [&] { return fh.frames.size() == 2; }));
  CHECK(fh.frames[0] == big);
  CHECK(fh.frames[1] == "tail");
}

// A frame over max_frame: the list ends FR_TOO_LARGE with its size; a host that
// does nothing about it still sees the connection closed, with EMSGSIZE.
TEST(too_large_closes_with_emsgsize) {
  test_loop t;
  use_codec(t, specs::lf(0, 4, true, 0, 4, 1000));
  client c(t.bound);
  framed_host fh;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type == EV_DATA) fh.on_data(tl, static_cast<uint32_t>(e.slot));
  };
  c.send(lf32("ok") + std::string("\0\0\x13\x88", 4));  // 4 + 5000 > 1000
  CHECK(drive(t, {&c}, [&] { return t.count(EV_CLOSE) == 1; }));
  CHECK(fh.frames == std::vector<std::string>{"ok"});
  CHECK_EQ(fh.statuses.back(), FR_TOO_LARGE);
  CHECK_EQ(fh.last_detail, 5004);
  CHECK_EQ(t.of_type(EV_CLOSE)[0].arg, EMSGSIZE);
  CHECK(drive(t, {&c}, [&] { return c.finished(); }));
}

// The host closes on FR_INVALID after replying to the frame before it: the reply
// goes out, then a clean close (what lib/loop.ts does).
TEST(host_closes_on_a_bad_frame_after_its_reply) {
  test_loop t;
  use_codec(t, specs::lf(0, 4, true, -4, 4));  // the field counts itself
  client c(t.bound);
  framed_host fh;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type != EV_DATA) return;
    uint32_t slot = static_cast<uint32_t>(e.slot), gen = static_cast<uint32_t>(e.gen);
    size_t before = fh.frames.size();
    fh.on_data(tl, slot);
    for (size_t i = before; i < fh.frames.size(); i++) {
      std::string reply = "got " + fh.frames[i];
      tl.op_write(slot, gen, reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    }
    if (!fh.statuses.empty() && fh.statuses.back() == FR_INVALID) tl.op(OP_CLOSE, slot, gen);
  };
  c.send(std::string("\0\0\0\x06" "ab" "\0\0\0\x01", 10));
  CHECK(drive(t, {&c}, [&] { return c.finished(); }));
  CHECK_EQ(c.in, std::string("got ab"));
  CHECK_EQ(fh.last_detail, 1);
  CHECK_EQ(t.of_type(EV_CLOSE)[0].arg, 0);
}

// A dialed connection with its own codec; the accepted end (no accept codec) is raw.
TEST(dial_with_a_codec) {
  test_loop t;
  int id = loop_add_codec(t.l, specs::line());
  CHECK(id >= 1);
  framed_host fh;
  int32_t dialed = -1, dialed_gen = -1;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type == EV_OPEN && e.arg == 5) {
      dialed = e.slot;
      dialed_gen = e.gen;
    } else if (e.type == EV_DATA && e.slot == dialed) {
      fh.on_data(tl, static_cast<uint32_t>(e.slot));
    } else if (e.type == EV_DATA) {
      CHECK(tl.row(static_cast<uint32_t>(e.slot))[CT_BUF] >= 0);
      tl.echo(static_cast<uint32_t>(e.slot), static_cast<uint32_t>(e.gen));  // raw
    }
  };
  CHECK_EQ(loop_dial(t.l, t.bound, 2000, 5, nullptr, id + 1), -EINVAL);  // no such codec
  CHECK_EQ(loop_dial(t.l, t.bound, 2000, 5, nullptr, id), 0);
  CHECK(run_until(t, [&] { return dialed >= 0; }));
  std::string msg = "one\r\ntwo\nthree\n";
  CHECK(t.op_write(static_cast<uint32_t>(dialed), static_cast<uint32_t>(dialed_gen), reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  loop_apply_ops(t.l);
  CHECK(run_until(t, [&] { return fh.frames.size() == 3; }));
  CHECK((fh.frames == std::vector<std::string>{"one", "two", "three"}));
}

// The host writes garbage where native reads back (CT_START, CT_FRAMES) and never
// consumes: native stays inside the connection's bytes (ASan), and a codec
// connection whose host does not take its frames just keeps them.
TEST(garbage_from_the_host) {
  test_loop t;
  use_codec(t, specs::fixed(4));
  client c(t.bound);
  int round = 0;
  t.handler = [&](test_loop& tl, const event& e) {
    if (e.type != EV_DATA) return;
    int32_t* r = tl.row(static_cast<uint32_t>(e.slot));
    const int32_t vals[] = {-5, 1 << 30, r[CT_END] + 3, 2};
    r[CT_START] = vals[round++ % 4];
    r[CT_FRAMES] = 1 << 29;
  };
  for (int i = 0; i < 20; i++) {
    c.send(random_bytes(1000, static_cast<uint32_t>(i)));
    drive(t, {&c}, [] { return false; }, 20);
  }
  CHECK(round > 0);
}

TEST(bad_specs_and_the_table_limit) {
  test_loop t;
  codec_spec s;
  CHECK_EQ(loop_add_codec(t.l, s), -EINVAL);  // CODEC_NONE
  CHECK_EQ(loop_frames_id(t.l), -1);         // nothing allocated for it
  codec_spec huge = specs::fixed(1);
  huge.fixed.size = (1u << 30) + 1;
  CHECK_EQ(loop_add_codec(t.l, huge), -EINVAL);
  CHECK_EQ(loop_set_accept_codec(t.l, 1), -EINVAL);
  for (int i = 1; i <= 64; i++) CHECK_EQ(loop_add_codec(t.l, specs::fixed(static_cast<uint32_t>(i))), i);
  CHECK_EQ(loop_add_codec(t.l, specs::fixed(65)), -ENOSPC);
  CHECK_EQ(loop_set_accept_codec(t.l, 64), 0);
  CHECK_EQ(loop_set_accept_codec(t.l, 0), 0);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
