// libFuzzer target for the op decoder: whatever JS (or a bug, or another library
// scribbling over shared memory) leaves in the ops region, the staging area and the
// connection table's CT_START must be rejected or applied within bounds — never a
// crash, never an out-of-bounds access (built with ASan + UBSan).
//
// One loop with a few real TCP connections lives across inputs. Each input becomes:
// a raw OP_COUNT and header, up to ops_cap raw op records (each field either raw or
// nudged towards something the decoder accepts: a live slot and generation, a known
// op type, a length within staging), raw CT_START values, then loop_apply_ops() and
// a few loop iterations. Connections an input closes are replaced before the next.
//
//   node scripts/fuzz.js [--seconds N] [--seed N]      (builds and runs it)
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "loop_fixture.h"

using namespace fixture;

namespace {

constexpr int kConns = 4;

struct input {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
  int32_t i32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= static_cast<uint32_t>(u8()) << (8 * i);
    return static_cast<int32_t>(v);
  }
};

struct world {
  std::unique_ptr<test_loop> t;
  std::vector<std::unique_ptr<client>> clients;
  std::vector<std::pair<uint32_t, uint32_t>> live;  // (slot, gen) of open connections

  world() {
    loop_config c = small_config();
    c.max_conns = 8;
    c.staging_size = 4096;
    c.ops_cap = 64;
    c.events_cap = 16;
    t = std::make_unique<test_loop>(c);
    t->refs = {std::string(1, 'r'), std::string(3000, 'R'), std::string(100000, 'X')};
    refill();
  }

  // Events since the last look: track opens and closes.
  void track() {
    for (const event& e : t->log) {
      if (e.type == EV_OPEN) live.emplace_back(e.slot, e.gen);
      if (e.type == EV_CLOSE)
        for (size_t i = 0; i < live.size(); i++)
          if (live[i].first == static_cast<uint32_t>(e.slot) && live[i].second == static_cast<uint32_t>(e.gen)) {
            live.erase(live.begin() + static_cast<long>(i));
            break;
          }
    }
    t->log.clear();
  }

  // Let bytes move: clients read and forget, the loop runs.
  void settle(int rounds) {
    for (int i = 0; i < rounds; i++) {
      for (auto& c : clients) {
        c->pump();
        c->in.clear();
      }
      CHECK(t->run(0) >= 0);
    }
    track();
  }

  void refill() {
    for (size_t i = 0; i < clients.size();)
      if (clients[i]->finished()) clients.erase(clients.begin() + static_cast<long>(i));
      else i++;
    while (clients.size() < kConns) clients.push_back(std::make_unique<client>(t->bound));
    for (int i = 0; i < 200 && live.size() < clients.size(); i++) {
      for (auto& c : clients) c->pump();
      CHECK(t->run(1) >= 0);
      track();
    }
  }
};

world& the_world() {
  static world* w = new world();  // lives for the process: libFuzzer never returns
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  world& w = the_world();
  test_loop& t = *w.t;
  input in{data, size};
  int32_t* ops = t.ops();
  const uint32_t cap = t.cfg.ops_cap;

  // Some inbound bytes on each connection first, so CT_START has something to point into.
  uint8_t flags = in.u8();
  if (flags & 1)
    for (auto& c : w.clients) c->send(std::string(1 + in.u8() * 64, 'i'));
  w.settle(2);

  // Raw CT_START for some rows (JS advances it; anything else is garbage).
  uint8_t rows = in.u8() % 4;
  for (uint8_t i = 0; i < rows; i++) {
    uint32_t slot = in.u8() % t.cfg.max_conns;
    t.row(slot)[CT_START] = in.i32();
  }

  uint32_t nrec = in.u8() % (cap + 1);
  for (uint32_t i = 0; i < nrec && !in.empty(); i++) {
    int32_t* o = ops + OP_HEADER + static_cast<size_t>(i) * OP_STRIDE;
    uint8_t how = in.u8();
    int32_t type = in.i32(), slot = in.i32(), gen = in.i32(), a = in.i32(), b = in.i32();
    if (!(how & 1)) type = static_cast<int32_t>(static_cast<uint32_t>(type) % 8);
    if (!(how & 2) && !w.live.empty()) {
      auto sg = w.live[static_cast<uint32_t>(slot) % w.live.size()];
      slot = static_cast<int32_t>(sg.first);
      if (!(how & 4)) gen = static_cast<int32_t>(sg.second);
    }
    if (!(how & 8)) b = static_cast<int32_t>(static_cast<uint32_t>(b) % (t.cfg.staging_size + 16));
    if (!(how & 16)) a = static_cast<int32_t>(static_cast<uint32_t>(a) % (t.cfg.staging_size + 16));
    o[0] = type;
    o[1] = slot;
    o[2] = gen;
    o[3] = a;
    o[4] = b;
  }
  ops[OP_COUNT] = (flags & 2) ? in.i32() : static_cast<int32_t>(nrec);
  ops[OP_STAGED] = (flags & 4) ? in.i32() : 0;
  ops[OP_REFS] = static_cast<int32_t>(t.refs.size());

  CHECK_EQ(loop_apply_ops(t.l), 0);
  CHECK_EQ(ops[OP_COUNT], 0);
  loop_deliver(t.l);
  w.settle(3);
  w.refill();
  return 0;
}
