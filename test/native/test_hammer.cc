// Randomised hammer: many clients opening, writing random sizes, half-closing and
// resetting; the server closing, half-closing and resetting connections in and out of
// batches; a second thread posting writes, closes and wakes (some to stale names); a
// handler that sometimes leaves bytes unconsumed. After every loop iteration the
// events are checked against a model. Seeded: RINGNET_SEED=<n> replays a run (the
// schedule; kernel timing still varies), RINGNET_HAMMER_MS=<ms> sets its length.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "loop_fixture.h"

using namespace fixture;

namespace {

enum role { ECHO, SINK };  // SINK: never sends; receives only posted writes

struct hclient {
  uint64_t id = 0;
  role kind = ECHO;
  std::unique_ptr<client> c;
  bool named = false;           // the server's EV_OPEN for it has been seen
  uint32_t slot = 0, gen = 0;
  bool server_closed = false;   // we had the server close/shut/reset it: a prefix is owed
  bool server_gone = false;     // its EV_CLOSE was seen
  bool abortive = false;        // reset by the server: even a SINK is owed only a prefix
  std::string expect;           // SINK: bytes of posted writes reported sent
  size_t verified = 0;          // bytes of c->in already checked
};

struct post_cmd {
  task_kind kind = TASK_WAKE;
  uint32_t slot = 0, gen = 0, tag = 0, size = 0, delay_us = 0;
  bool quit = false;
};

struct pending_write {
  uint64_t client = 0;  // 0: aimed at a stale name, must fail
  uint32_t size = 0;
};

uint64_t key(uint32_t slot, uint32_t gen) { return (static_cast<uint64_t>(slot) << 32) | gen; }

// Is `in` still a prefix of `owed`? Only in[from, end) is new since the last check.
bool still_prefix(const std::string& in, const std::string& owed, size_t from) {
  return in.size() <= owed.size() && owed.compare(from, in.size() - from, in, from, in.size() - from) == 0;
}

// The second thread: posts what it is told, in order, at its own pace.
class poster {
 public:
  explicit poster(loop* l) : l_(l), th_([this] { run(); }) {}
  ~poster() { stop(); }
  void send(const post_cmd& c) {
    std::lock_guard<std::mutex> g(mu_);
    q_.push_back(c);
    cv_.notify_one();
  }
  // Tags of writes loop_post refused up front (-ENOTCONN: the name was closed
  // already); they get no EV_TASK_DONE.
  std::vector<uint32_t> take_refused() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<uint32_t> v;
    v.swap(refused_);
    return v;
  }
  void stop() {
    if (!th_.joinable()) return;
    post_cmd q;
    q.quit = true;
    send(q);
    th_.join();
  }

 private:
  void run() {
    for (;;) {
      post_cmd c;
      {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [this] { return !q_.empty(); });
        c = q_.front();
        q_.pop_front();
      }
      if (c.quit) return;
      if (c.delay_us) std::this_thread::sleep_for(std::chrono::microseconds(c.delay_us));
      task t;
      t.kind = c.kind;
      t.slot = c.slot;
      t.gen = c.gen;
      t.tag = c.tag;
      if (c.kind == TASK_WRITE) {
        std::string s = random_bytes(c.size, c.tag);
        t.data.assign(s.begin(), s.end());
      }
      int r = loop_post(l_, std::move(t));
      if (r == -ENOTCONN) {
        std::lock_guard<std::mutex> g(mu_);
        if (c.tag) refused_.push_back(c.tag);
      } else if (r != 0) {
        fprintf(stderr, "loop_post: %d\n", r);
        abort();
      }
    }
  }
  loop* l_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<post_cmd> q_;
  std::vector<uint32_t> refused_;
  std::thread th_;
};

class hammer {
 public:
  explicit hammer(uint64_t seed) : rng_(seed), t_(config()) {
    t_.handler = [this](test_loop&, const event& e) { on_event(e); };
  }

  static loop_config config() {
    loop_config c = small_config();
    c.events_cap = 16;       // overflow rounds every busy batch
    c.ops_cap = 64;          // mid-batch flushes when the handler writes a lot
    c.staging_size = 64 * 1024;
    c.read_size = 16 * 1024; // an arena of 128 KiB: fills, delivers mid-poll
    c.conn.sndbuf = 32 * 1024; // slow readers back the server's output up sooner
    return c;
  }

  void run(int ms) {
    {
      poster p(t_.l);
      poster_ = &p;
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < until) {
        step_random();
        iterate(0);
        steps_++;
      }
      p.stop();
      take_refused();
      poster_ = nullptr;
    }
    finish();
    printf("hammer: %llu steps, %llu clients, %llu events, %llu posted writes, %.1f MiB echoed\n",
           static_cast<unsigned long long>(steps_), static_cast<unsigned long long>(next_id_ - 1),
           static_cast<unsigned long long>(events_), static_cast<unsigned long long>(next_tag_ - 1),
           t_.stat(ST_BYTES_OUT) / 1048576.0);
    stats_["batches"] = static_cast<uint64_t>(t_.stat(ST_BATCHES));
    stats_["polls"] = static_cast<uint64_t>(t_.stat(ST_POLLS));
    for (auto& kv : stats_) printf("  %-22s %llu\n", kv.first.c_str(), static_cast<unsigned long long>(kv.second));
  }

  void destroy() { t_.destroy(); }

 private:
  uint32_t pick(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }
  bool chance(uint32_t percent) { return pick(100) < percent; }

  hclient* random_client(bool named_only) {
    std::vector<hclient*> v;
    for (auto& kv : clients_)
      if (!named_only || (kv.second.named && !kv.second.server_gone)) v.push_back(&kv.second);
    return v.empty() ? nullptr : v[pick(static_cast<uint32_t>(v.size()))];
  }

  hclient* client_of(uint32_t slot, uint32_t gen) {
    auto it = by_name_.find(key(slot, gen));
    if (it == by_name_.end()) return nullptr;
    auto c = clients_.find(it->second);
    return c == clients_.end() ? nullptr : &c->second;
  }

  size_t write_size() {
    switch (pick(4)) {
      case 0: return 1 + pick(64);
      case 1: return 1 + pick(4096);
      case 2: return 1 + pick(64 * 1024);
      default: return 1 + pick(256 * 1024);
    }
  }

  void step_random() {
    uint32_t r = pick(100);
    if (r < 10) {
      if (clients_.size() < 40) open_client();
    } else if (r < 45) {
      hclient* h = random_client(false);
      if (h && h->kind == ECHO && !h->c->shut_after_send && h->c->out.size() - h->c->sent < (4u << 20))
        h->c->send(random_bytes(write_size(), static_cast<uint32_t>(rng_())));
    } else if (r < 50) {
      hclient* h = random_client(false);
      if (h && h->kind == ECHO) h->c->shutdown_after_send();
    } else if (r < 54) {
      hclient* h = random_client(false);
      if (h) drop(h, chance(50));  // RST or plain close, without waiting for anything
    } else if (r < 57) {
      server_side_action();
    } else if (r < 60) {
      delayed_ops();
    } else if (r < 90) {
      post_something();
    } else if (r < 94) {
      // A slow reader: the server's output backs up (EV_WRITABLE when it drains).
      hclient* h = random_client(false);
      if (h) h->c->reading = !h->c->reading;
    } else if (r < 96) {
      // Many connections readable at once: the read arena fills within one poll.
      for (auto& kv : clients_)
        if (kv.second.kind == ECHO && !kv.second.c->shut_after_send)
          kv.second.c->send(random_bytes(8 * 1024 + pick(24 * 1024), static_cast<uint32_t>(rng_())));
      stats_["burst"]++;
    }
  }

  void open_client() {
    hclient h;
    h.id = next_id_++;
    h.kind = chance(75) ? ECHO : SINK;
    h.c.reset(new client(t_.bound));
    by_port_[h.c->port] = h.id;
    clients_[h.id] = std::move(h);
  }

  void drop(hclient* h, bool rst) {
    stats_[rst ? "client RST" : "client close"]++;
    if (rst) h->c->reset(); else h->c->close();
    by_port_.erase(h->c->port);
    clients_.erase(h->id);  // its server side closes later; the model follows by events
  }

  // Outside a batch, as JS does from a timer or a promise: record ops, flush, deliver.
  void server_side_action() {
    hclient* h = random_client(true);
    if (!h) return;
    h->server_closed = true;
    switch (pick(3)) {
      case 0: t_.op(OP_CLOSE, h->slot, h->gen); break;
      case 1: t_.op(OP_SHUTDOWN_WR, h->slot, h->gen); break;
      case 2:
        h->abortive = true;
        CHECK_EQ(loop_conn_reset(t_.l, h->slot, h->gen), 0);
        break;
    }
    stats_["server-side op/reset"]++;
    CHECK_EQ(loop_apply_ops(t_.l), 0);
    loop_deliver(t_.l);
    check_counts();
  }

  // Ops recorded outside a batch and left for the loop to apply after its next
  // batch, as a JS write from a timer is: by then the connection may be gone and its
  // slot reused, and the op must not reach the newcomer.
  void delayed_ops() {
    hclient* h = random_client(true);
    if (h) {
      h->server_closed = true;
      t_.op(chance(50) ? OP_CLOSE : OP_SHUTDOWN_WR, h->slot, h->gen);
    }
    if (!closed_names_.empty()) {
      auto it = closed_names_.end();
      std::advance(it, -static_cast<long>(1 + pick(static_cast<uint32_t>(std::min<size_t>(closed_names_.size(), 16)))));
      const uint8_t junk[] = "stale op";
      t_.op_write(static_cast<uint32_t>(*it >> 32), static_cast<uint32_t>(*it), junk, sizeof(junk));
      t_.op(OP_CLOSE, static_cast<uint32_t>(*it >> 32), static_cast<uint32_t>(*it));
    }
    stats_["delayed ops"]++;
  }

  void post_something() {
    post_cmd c;
    c.delay_us = chance(20) ? pick(300) : 0;
    uint32_t r = pick(100);
    hclient* h = random_client(true);
    if (r < 10 && !closed_names_.empty()) {
      // A name that is already closed: a write must fail, nothing may happen.
      auto it = closed_names_.begin();
      std::advance(it, pick(static_cast<uint32_t>(std::min<size_t>(closed_names_.size(), 64))));
      c.slot = static_cast<uint32_t>(*it >> 32);
      c.gen = static_cast<uint32_t>(*it);
      c.kind = static_cast<task_kind>(pick(3));  // TASK_WRITE, TASK_CLOSE or TASK_WAKE
      stats_["post to stale name"]++;
    } else if (h && r < 75 && h->kind == SINK) {
      c.kind = TASK_WRITE;
      c.slot = h->slot;
      c.gen = h->gen;
    } else if (h && r < 85) {
      c.kind = TASK_WAKE;
      c.slot = h->slot;
      c.gen = h->gen;
    } else if (h && r < 90) {
      c.kind = TASK_CLOSE;
      c.slot = h->slot;
      c.gen = h->gen;
      h->server_closed = true;
    } else {
      return;
    }
    if (c.kind == TASK_WRITE) {
      c.tag = next_tag_++;
      c.size = static_cast<uint32_t>(1 + pick(32 * 1024));
      hclient* target = client_of(c.slot, c.gen);
      writes_[c.tag] = pending_write{target && target->kind == SINK ? target->id : 0, c.size};
    }
    poster_->send(c);
  }

  // One loop iteration, then what JS would do after it: consume what the handler
  // left, then check the clients against what the server did.
  void take_refused() {
    if (!poster_) return;
    for (uint32_t tag : poster_->take_refused()) {
      stats_["post refused"]++;
      task_done(tag, ENOTCONN);
    }
  }

  void iterate(int timeout_ms) {
    take_refused();
    uint64_t batches = t_.batches;
    CHECK(t_.run(timeout_ms) >= 0);
    if (t_.batches > batches + 1) stats_["iterations with 2+ batches"]++;
    check_counts();
    if (!leftover_.empty()) {
      std::set<uint64_t> left;
      left.swap(leftover_);
      for (uint64_t k : left) {
        uint32_t slot = static_cast<uint32_t>(k >> 32), gen = static_cast<uint32_t>(k);
        if (!t_.live(slot, gen)) continue;
        t_.echo(slot, gen);
        t_.op(OP_RESUME, slot, gen);
      }
      CHECK_EQ(loop_apply_ops(t_.l), 0);
      loop_deliver(t_.l);
      check_counts();
    }
    pump_clients();
    t_.log.clear();
  }

  void check_counts() {
    CHECK_EQ(loop_count(t_.l), static_cast<uint32_t>(open_.size()));
    CHECK_EQ(loop_live(t_.l), static_cast<uint32_t>(open_.size()));
    CHECK_EQ(t_.stat(ST_CONNS), static_cast<double>(open_.size()));
  }

  void on_event(const event& e) {
    events_++;
    if (e.type == EV_TASK_DONE) return task_done(static_cast<uint32_t>(e.slot), e.arg);
    uint32_t slot = static_cast<uint32_t>(e.slot), gen = static_cast<uint32_t>(e.gen);
    CHECK_MSG(!closed_names_.count(key(slot, gen)), "event %d for closed %u/%u", e.type, slot, gen);
    auto it = open_.find(slot);
    if (e.type == EV_OPEN) {
      CHECK_MSG(it == open_.end(), "EV_OPEN of busy slot %u", slot);
      open_[slot] = gen;
      addr peer;
      if (loop_conn_addr(t_.l, slot, gen, true, &peer) == 0) {
        auto p = by_port_.find(peer.port);
        if (p != by_port_.end()) {
          hclient& h = clients_[p->second];
          CHECK(!h.named);
          h.named = true;
          h.slot = slot;
          h.gen = gen;
          by_name_[key(slot, gen)] = h.id;
        }
      }
      return;
    }
    CHECK_MSG(it != open_.end() && it->second == gen, "event %d for %u/%u, which is not open", e.type, slot, gen);
    switch (e.type) {
      case EV_CLOSE: {
        open_.erase(it);
        closed_names_.insert(key(slot, gen));
        stats_[e.arg == 0 ? "EV_CLOSE clean" : "EV_CLOSE errno"]++;
        if (hclient* h = client_of(slot, gen)) {
          h->server_gone = true;
          // Unasked, the server closes only after the client's own half-close.
          CHECK_MSG(h->server_closed || (h->c->shut && e.arg == 0), "client %llu closed by the server, errno %d",
                    static_cast<unsigned long long>(h->id), e.arg);
        }
        by_name_.erase(key(slot, gen));
        leftover_.erase(key(slot, gen));
        break;
      }
      case EV_DATA: on_data(slot, gen); break;
      case EV_WAKE: stats_["EV_WAKE"]++; break;
      case EV_WRITABLE: stats_["EV_WRITABLE"]++; break;
      case EV_END:
        stats_["EV_END"]++;
        if (hclient* h = client_of(slot, gen)) {
          CHECK_MSG(h->c->shut, "EV_END for client %llu, which did not shut down", static_cast<unsigned long long>(h->id));
          // Without half-open the connection closes after this batch, once what is
          // queued is sent: bytes still unconsumed then are dropped (node:net's
          // allowHalfOpen: false does the same). A handler holding a partial frame
          // either answers it here, at the end, or owes only a prefix.
          if (leftover_.count(key(slot, gen))) {
            if (chance(50)) {
              leftover_.erase(key(slot, gen));
              t_.echo(slot, gen);
              stats_["leftover answered at EV_END"]++;
            } else {
              h->server_closed = true;
              stats_["leftover dropped at EV_END"]++;
            }
          }
        }
        break;
      default: CHECK_MSG(false, "unknown event type %d", e.type);
    }
  }

  void on_data(uint32_t slot, uint32_t gen) {
    auto in = t_.inbound(slot, gen);
    if (in.second == 0) return;  // closed earlier in this batch
    hclient* h = client_of(slot, gen);
    if (chance(10)) {
      // Consume only part now; the rest after the batch (a handler waiting for a
      // whole frame).
      size_t k = pick(static_cast<uint32_t>(in.second));
      if (k > 0 && !t_.op_write(slot, gen, in.first, k)) return;
      t_.row(slot)[CT_START] += static_cast<int32_t>(k);
      leftover_.insert(key(slot, gen));
      stats_["partial consume"]++;
    } else if (t_.row(slot)[CT_BUF] == loop_arena_id(t_.l) && chance(50)) {
      // Echo a view of the read arena without copying it (what lib/ does for
      // write(conn.next(n))); only valid inside the batch.
      int32_t* r = t_.row(slot);
      t_.op(OP_WRITE_ARENA, slot, gen, r[CT_START], r[CT_END] - r[CT_START]);
      r[CT_START] = r[CT_END];
      stats_["arena write"]++;
    } else {
      t_.echo(slot, gen);
    }
    if (!t_.live(slot, gen)) return;  // a flush above hit a write error and closed it
    uint32_t r = pick(1000);
    if (r < 15) {
      t_.op(OP_CLOSE, slot, gen);
      if (h) h->server_closed = true;
      stats_["close op in batch"]++;
    } else if (r < 25) {
      if (h) h->server_closed = h->abortive = true;
      stats_["reset in batch"]++;
      CHECK_EQ(loop_conn_reset(t_.l, slot, gen), 0);  // its EV_CLOSE joins this batch
    } else if (r < 60) {
      CHECK_EQ(loop_apply_ops(t_.l), 0);  // a flush inside the handler
      stats_["flush in batch"]++;
    }
  }

  void task_done(uint32_t tag, int32_t err) {
    auto it = writes_.find(tag);
    CHECK_MSG(it != writes_.end(), "EV_TASK_DONE for unknown tag %u", tag);
    pending_write w = it->second;
    writes_.erase(it);
    auto c = clients_.find(w.client);
    stats_[err == 0 ? "posted write ok" : "posted write refused"]++;
    if (w.client == 0) {
      CHECK_MSG(err != 0, "posted write %u to a stale name reported success", tag);
    } else if (err == 0 && c != clients_.end()) {
      c->second.expect += random_bytes(w.size, tag);
    } else if (c != clients_.end()) {
      // Only a connection being closed may refuse a write.
      CHECK_MSG(c->second.server_closed || c->second.server_gone, "posted write %u failed: errno %d", tag, err);
    }
  }

  void pump_clients() {
    std::vector<hclient*> done;
    for (auto& kv : clients_) {
      hclient& h = kv.second;
      client& c = *h.c;
      c.pump();
      const std::string& owed = h.kind == ECHO ? c.out : h.expect;
      if (!still_prefix(c.in, owed, h.verified)) explain_mismatch(h, owed);
      CHECK_MSG(still_prefix(c.in, owed, h.verified), "client %llu (%s) got %zu bytes that were not owed (owed %zu)",
                static_cast<unsigned long long>(h.id), h.kind == ECHO ? "echo" : "sink", c.in.size(), owed.size());
      h.verified = c.in.size();
      if (h.kind == SINK && c.eof && !h.abortive) {
        // Closes and half-closes are graceful: every write reported sent arrives.
        CHECK_MSG(c.in == h.expect, "sink %llu: EOF after %zu of %zu bytes", static_cast<unsigned long long>(h.id),
                  c.in.size(), h.expect.size());
      }
      if (!h.server_closed) {
        CHECK_MSG(c.read_err == 0 && c.write_err == 0, "client %llu: read %d write %d",
                  static_cast<unsigned long long>(h.id), c.read_err, c.write_err);
        CHECK_MSG(!c.eof || (h.kind == ECHO && c.shut), "client %llu: unexpected EOF",
                  static_cast<unsigned long long>(h.id));
        if (c.eof) CHECK_MSG(c.in == c.out, "client %llu: EOF after %zu of %zu echoed bytes",
                             static_cast<unsigned long long>(h.id), c.in.size(), c.out.size());
      }
      if (c.finished()) done.push_back(&h);
    }
    for (hclient* h : done) drop(h, false);
  }

  // Where the received bytes leave what was owed, and where they seem to come from.
  void explain_mismatch(const hclient& h, const std::string& owed) {
    const std::string& in = h.c->in;
    size_t at = h.verified;
    while (at < in.size() && at < owed.size() && in[at] == owed[at]) at++;
    std::string probe = in.substr(at, 32);
    size_t found = owed.find(probe);
    fprintf(stderr,
            "client %llu (%s): received %zu, owed %zu, verified %zu, first difference at %zu; "
            "the bytes there appear in what was owed at %lld; named %d slot %u gen %u, server_closed %d abortive %d "
            "shut %d eof %d errs %d/%d\n",
            static_cast<unsigned long long>(h.id), h.kind == ECHO ? "echo" : "sink", in.size(), owed.size(), h.verified,
            at, found == std::string::npos ? -1LL : static_cast<long long>(found), h.named, h.slot, h.gen,
            h.server_closed, h.abortive, h.c->shut, h.c->eof, h.c->read_err, h.c->write_err);
    if (probe.find("stale op") != std::string::npos) fprintf(stderr, "  ...a stale op's bytes\n");
  }

  bool quiet() {
    if (!writes_.empty()) return false;
    for (auto& kv : clients_) {
      const hclient& h = kv.second;
      if (h.kind == SINK && !h.abortive && !h.c->finished() && h.c->in.size() < h.expect.size()) return false;
      if (h.kind == ECHO && !h.c->finished()) return false;
    }
    return true;
  }

  void finish() {
    for (auto& kv : clients_) {
      kv.second.c->reading = true;
      if (kv.second.kind == ECHO) kv.second.c->shutdown_after_send();
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!quiet()) {
      CHECK_MSG(std::chrono::steady_clock::now() < until, "no quiet after 30 s: %zu writes pending, %zu clients",
                writes_.size(), clients_.size());
      iterate(1);
    }
    for (auto& kv : clients_) {
      hclient& h = kv.second;
      if (h.kind == SINK && !h.abortive && !h.c->finished()) CHECK(h.c->in == h.expect);
    }
    while (!clients_.empty()) drop(&clients_.begin()->second, chance(50));
    until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!open_.empty()) {
      CHECK_MSG(std::chrono::steady_clock::now() < until, "%zu server connections still open", open_.size());
      iterate(1);
    }
    CHECK_EQ(loop_count(t_.l), 0u);
    CHECK_EQ(t_.stat(ST_ACCEPTS), t_.stat(ST_CLOSES));
  }

  std::mt19937_64 rng_;
  test_loop t_;
  poster* poster_ = nullptr;
  std::map<uint64_t, hclient> clients_;            // by id
  std::unordered_map<uint16_t, uint64_t> by_port_; // client's local port -> id
  std::unordered_map<uint64_t, uint64_t> by_name_; // server (slot, gen) -> client id
  std::unordered_map<uint32_t, uint32_t> open_;    // model: slot -> gen of open connections
  std::set<uint64_t> closed_names_;
  std::set<uint64_t> leftover_;                    // names with bytes left unconsumed
  std::unordered_map<uint32_t, pending_write> writes_;
  uint64_t next_id_ = 1, steps_ = 0, events_ = 0;
  std::map<std::string, uint64_t> stats_;  // what the run exercised, printed at the end
  uint32_t next_tag_ = 1;
};

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = getenv(name);
  return v && *v ? strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

TEST(hammer_run) {
  uint64_t seed = env_u64("RINGNET_SEED", static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count()));
  int ms = static_cast<int>(env_u64("RINGNET_HAMMER_MS", 3000));
  printf("hammer: RINGNET_SEED=%llu RINGNET_HAMMER_MS=%d\n", static_cast<unsigned long long>(seed), ms);
  fflush(stdout);
  int fds = count_fds();
  {
    hammer h(seed);
    h.run(ms);
    h.destroy();
  }
  CHECK_EQ(count_fds(), fds);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
