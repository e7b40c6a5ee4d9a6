// A real loop with an echo host: byte integrity, half-close, peer reset, closes in
// the middle of a batch, stale names, capacity, backpressure events, posted tasks.
#include <memory>
#include <thread>

#include "loop_fixture.h"

using namespace fixture;

namespace {

struct name {
  uint32_t slot = 0, gen = 0;
};

// The server-side name of a client's connection, found by its port (the server sees
// the client's local port as the peer's).
name server_name(test_loop& t, const client& c) {
  for (const event& e : t.of_type(EV_OPEN)) {
    addr peer;
    if (loop_conn_addr(t.l, e.slot, e.gen, true, &peer) == 0 && peer.port == c.port)
      return {static_cast<uint32_t>(e.slot), static_cast<uint32_t>(e.gen)};
  }
  CHECK_MSG(false, "no live server connection for client port %u", c.port);
  return {};
}

void echo_handler(test_loop& t, const event& e) {
  if (e.type == EV_DATA) t.echo(e.slot, e.gen);
}

// Every EV_CLOSE names a connection opened earlier with the same generation, each
// closes once, and nothing is reported for a name after its close.
void check_event_order(const test_loop& t) {
  std::unordered_map<uint32_t, uint32_t> open;  // slot -> gen
  std::vector<std::pair<int32_t, int32_t>> closed;
  for (const event& e : t.log) {
    if (e.type == EV_TASK_DONE) continue;  // [type, tag, 0, errno]: no connection
    for (auto& c : closed)
      CHECK_MSG(!(c.first == e.slot && c.second == e.gen), "event %d for closed %d/%d", e.type, e.slot, e.gen);
    auto it = open.find(static_cast<uint32_t>(e.slot));
    if (e.type == EV_OPEN) {
      CHECK_MSG(it == open.end(), "open of busy slot %d", e.slot);
      open[static_cast<uint32_t>(e.slot)] = static_cast<uint32_t>(e.gen);
      continue;
    }
    CHECK_MSG(it != open.end() && it->second == static_cast<uint32_t>(e.gen), "event %d for %d/%d not open", e.type,
              e.slot, e.gen);
    if (e.type == EV_CLOSE) {
      open.erase(it);
      closed.push_back({e.slot, e.gen});
    }
  }
}

bool all_finished(const std::vector<client*>& cs) {
  for (client* c : cs)
    if (!c->finished()) return false;
  return true;
}

}  // namespace

TEST(echo_sizes) {
  int fds = count_fds();
  {
    test_loop t;
    t.handler = echo_handler;
    const size_t sizes[] = {1, 100, 16383, 16384, 16385, 65536, 100000, 1 << 20, 3 << 20};
    std::vector<std::unique_ptr<client>> owned;
    std::vector<client*> cs;
    std::vector<std::string> payloads;
    size_t total = 0;
    for (size_t n : sizes) {
      owned.emplace_back(new client(t.bound));
      cs.push_back(owned.back().get());
      payloads.push_back(random_bytes(n, static_cast<uint32_t>(n)));
      cs.back()->send(payloads.back());
      cs.back()->shutdown_after_send();
      total += n;
    }
    CHECK(drive(t, cs, [&] { return all_finished(cs); }));
    for (size_t i = 0; i < cs.size(); i++) {
      CHECK_MSG(cs[i]->eof && cs[i]->read_err == 0, "client %zu: err %d", i, cs[i]->read_err);
      CHECK_MSG(cs[i]->in == payloads[i], "size %zu: got %zu bytes back", sizes[i], cs[i]->in.size());
    }
    CHECK(drive(t, cs, [&] { return loop_count(t.l) == 0; }));
    CHECK_EQ(t.count(EV_OPEN), cs.size());
    CHECK_EQ(t.count(EV_CLOSE), cs.size());
    for (const event& e : t.of_type(EV_CLOSE)) CHECK_EQ(e.arg, 0);
    check_event_order(t);
    CHECK_EQ(t.stat(ST_BYTES_IN), static_cast<double>(total));
    CHECK_EQ(t.stat(ST_BYTES_OUT), static_cast<double>(total));
    CHECK_EQ(t.stat(ST_CONNS), 0.0);
    CHECK(t.batches > 1);
  }
  CHECK_EQ(count_fds(), fds);
}

TEST(half_close_with_backlog) {
  // The client sends everything and half-closes before it reads a byte, so the
  // server's echo backs up in its outbound buffer and the peer's EOF arrives while it
  // drains: the server must finish sending and only then close.
  loop_config cfg = small_config();
  cfg.conn.sndbuf = 65536;
  test_loop t(cfg);
  t.handler = echo_handler;
  client c(t.bound);
  std::string payload = random_bytes(4 << 20, 7);
  c.send(payload);
  c.shutdown_after_send();
  c.reading = false;
  std::vector<client*> cs{&c};
  CHECK(drive(t, cs, [&] { return c.shut; }));
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 1 && t.row(t.log[0].slot)[CT_OUT] > 0; }));
  CHECK_EQ(loop_count(t.l), 1u);  // not closed while there is output to send
  c.reading = true;
  bool ok = drive(t, cs, [&] { return c.finished(); });
  CHECK_MSG(ok, "in %zu of %zu, conns %u, out %d, flags %d, in-buf %d..%d", c.in.size(), payload.size(), loop_count(t.l),
            t.row(t.log[0].slot)[CT_OUT], t.row(t.log[0].slot)[CT_FLAGS], t.row(t.log[0].slot)[CT_START],
            t.row(t.log[0].slot)[CT_END]);
  CHECK(c.eof);
  CHECK_EQ(c.read_err, 0);
  CHECK(c.in == payload);
  CHECK(drive(t, cs, [&] { return loop_count(t.l) == 0; }));
  auto closes = t.of_type(EV_CLOSE);
  CHECK_EQ(closes.size(), 1u);
  CHECK_EQ(closes[0].arg, 0);
  check_event_order(t);
}

TEST(peer_reset) {
  test_loop t;
  t.handler = echo_handler;
  client a(t.bound);
  a.send("ping");
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return a.in == "ping"; }));
  a.reset();
  CHECK(drive(t, cs, [&] { return t.count(EV_CLOSE) == 1; }));
  int32_t err = t.of_type(EV_CLOSE)[0].arg;
  CHECK_MSG(err == 0 || err == ECONNRESET, "close errno %d", err);
  CHECK_EQ(loop_count(t.l), 0u);
  check_event_order(t);
}

TEST(peer_reset_with_backlog) {
  // Reset while the server holds unsent output for the peer.
  loop_config cfg = small_config();
  cfg.conn.sndbuf = 65536;
  test_loop t(cfg);
  t.handler = echo_handler;
  client a(t.bound);
  a.reading = false;
  a.send(random_bytes(1 << 20, 3));
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return a.done_sending(); }));
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 1 && t.row(t.log[0].slot)[CT_OUT] > 0; }));
  a.reset();
  CHECK(drive(t, cs, [&] { return t.count(EV_CLOSE) == 1; }));
  int32_t err = t.of_type(EV_CLOSE)[0].arg;
  CHECK_MSG(err == 0 || err == ECONNRESET || err == EPIPE, "close errno %d", err);
  CHECK_EQ(loop_count(t.l), 0u);
  CHECK_EQ(t.stat(ST_CONNS), 0.0);
  check_event_order(t);
}

// Three connections with data in one batch. On the first EV_DATA the handler echoes
// and closes that connection (write then close: the echo goes out first), closes the
// second with an op recorded before its own EV_DATA is seen (its later echo must be
// dropped), and resets the third on the spot, as conn.reset() from JS does, which
// appends its EV_CLOSE to the batch being dispatched; its EV_DATA, still ahead in the
// batch, must then read as stale. With `flush`, the close op is applied mid-batch
// (a JS flush) instead of after the batch.
void close_mid_batch(bool flush) {
  int fds = count_fds();
  {
    test_loop t;
    std::unique_ptr<client> cl[3];
    std::vector<client*> cs;
    for (auto& c : cl) {
      c.reset(new client(t.bound));
      cs.push_back(c.get());
    }
    CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 3; }));
    name n[3];
    for (int i = 0; i < 3; i++) n[i] = server_name(t, *cl[i]);
    for (int i = 0; i < 3; i++) cl[i]->send(std::string("hello from ") + char('a' + i));
    for (client* c : cs) c->pump();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

    int first = -1;
    uint64_t batch = 0;
    bool saw_stale_data = false;
    t.handler = [&](test_loop& tl, const event& e) {
      if (e.type != EV_DATA) return;
      int who = -1;
      for (int i = 0; i < 3; i++)
        if (n[i].slot == static_cast<uint32_t>(e.slot) && n[i].gen == static_cast<uint32_t>(e.gen)) who = i;
      CHECK(who >= 0);
      if (first < 0) {
        first = who;
        batch = e.batch;
        int second = (who + 1) % 3, third = (who + 2) % 3;
        tl.echo(e.slot, e.gen);
        tl.op(OP_CLOSE, e.slot, e.gen);
        tl.op(OP_CLOSE, n[second].slot, n[second].gen);
        if (flush) CHECK_EQ(loop_apply_ops(tl.l), 0);
        CHECK_EQ(loop_conn_reset(tl.l, n[third].slot, n[third].gen), 0);
        CHECK_EQ(loop_conn_reset(tl.l, n[third].slot, n[third].gen), -ENOTCONN);
        return;
      }
      if (!tl.live(e.slot, e.gen)) {
        saw_stale_data = true;
        CHECK(tl.inbound(e.slot, e.gen).second == 0);
      }
      tl.echo(e.slot, e.gen);  // dropped: recorded after the connection's close
    };
    CHECK(t.run(100) > 0);
    CHECK(first >= 0);
    size_t data_in_batch = 0;
    for (const event& e : t.log) data_in_batch += e.batch == batch && e.type == EV_DATA;
    CHECK_EQ(data_in_batch, 3u);
    CHECK(saw_stale_data);  // at least the reset connection's
    t.handler = echo_handler;
    CHECK(drive(t, cs, [&] { return all_finished(cs) && loop_count(t.l) == 0; }));
    int second = (first + 1) % 3, third = (first + 2) % 3;
    CHECK(cl[first]->in == std::string("hello from ") + char('a' + first));
    CHECK(cl[first]->eof);
    CHECK(cl[second]->in.empty());
    CHECK(cl[second]->eof || cl[second]->read_err == -ECONNRESET);
    CHECK(cl[third]->in.empty());
    CHECK(cl[third]->read_err == -ECONNRESET || cl[third]->eof);
    CHECK_EQ(t.count(EV_CLOSE), 3u);
    check_event_order(t);
  }
  CHECK_EQ(count_fds(), fds);
}

TEST(close_op_mid_batch) { close_mid_batch(false); }
TEST(close_op_flushed_mid_batch) { close_mid_batch(true); }

TEST(stale_ops_and_tasks_are_ignored) {
  test_loop t;
  t.handler = echo_handler;
  client a(t.bound);
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 1; }));
  name old = server_name(t, a);
  a.close();
  CHECK(drive(t, cs, [&] { return t.count(EV_CLOSE) == 1; }));
  client b(t.bound);
  cs = {&b};
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 2; }));
  name now = server_name(t, b);
  CHECK_EQ(now.slot, old.slot);  // the freed slot is reused...
  CHECK(now.gen != old.gen);     // ...under a new generation

  const uint8_t stale[] = {'s', 't', 'a', 'l', 'e'};
  t.op_write(old.slot, old.gen, stale, sizeof(stale));
  t.op(OP_SHUTDOWN_WR, old.slot, old.gen);
  t.op(OP_CLOSE, old.slot, old.gen);
  t.op(OP_CLOSE, 60000, 1);                   // beyond the table
  t.op(OP_CLOSE, static_cast<uint32_t>(-1), 1);
  t.op(OP_CLOSE, now.slot + 1, 1);            // a free slot
  CHECK_EQ(loop_apply_ops(t.l), 0);
  loop_deliver(t.l);
  CHECK_EQ(t.ops()[OP_COUNT], 0);

  // loop_post may refuse a name it can see is closed (-ENOTCONN, no EV_TASK_DONE);
  // if it queues the task, the loop must drop it (a write reports ENOTCONN).
  task w;
  w.kind = TASK_WRITE;
  w.slot = old.slot;
  w.gen = old.gen;
  w.tag = 77;
  w.data.assign(stale, stale + sizeof(stale));
  int posted = loop_post(t.l, std::move(w));
  CHECK(posted == 0 || posted == -ENOTCONN);
  for (task_kind kind : {TASK_CLOSE, TASK_WAKE}) {
    task x;
    x.kind = kind;
    x.slot = old.slot;
    x.gen = old.gen;
    int r = loop_post(t.l, std::move(x));
    CHECK(r == 0 || r == -ENOTCONN);
  }
  task marker;  // tasks run in order: once this wake is seen, the ones above have run
  marker.kind = TASK_WAKE;
  marker.slot = now.slot;
  marker.gen = now.gen;
  CHECK_EQ(loop_post(t.l, std::move(marker)), 0);
  CHECK(drive(t, cs, [&] { return t.count(EV_WAKE) == 1; }));
  CHECK_EQ(static_cast<uint32_t>(t.of_type(EV_WAKE)[0].gen), now.gen);
  auto done = t.of_type(EV_TASK_DONE);
  CHECK_EQ(done.size(), posted == 0 ? 1u : 0u);
  if (posted == 0) {
    CHECK_EQ(done[0].slot, 77);
    CHECK_EQ(done[0].arg, ENOTCONN);
  }
  CHECK_EQ(loop_count(t.l), 1u);
  CHECK_EQ(loop_conn_nodelay(t.l, old.slot, old.gen, true), -ENOTCONN);
  CHECK_EQ(loop_conn_reset(t.l, old.slot, old.gen), -ENOTCONN);
  addr peer;
  CHECK_EQ(loop_conn_addr(t.l, old.slot, old.gen, true, &peer), -ENOTCONN);

  b.send("fresh");
  CHECK(drive(t, cs, [&] { return b.in.size() >= 5; }));
  CHECK_EQ(b.in, std::string("fresh"));  // nothing of the stale writes
  CHECK(!b.finished());
  check_event_order(t);
}

TEST(capacity_rejects_extra_connections) {
  loop_config cfg = small_config();
  cfg.max_conns = 2;
  test_loop t(cfg);
  t.handler = echo_handler;
  client a(t.bound), b(t.bound), c(t.bound);
  std::vector<client*> cs{&a, &b, &c};
  CHECK(drive(t, cs, [&] { return t.stat(ST_REJECTED) == 1 && t.count(EV_OPEN) == 2; }));
  int rejected = 0;
  CHECK(drive(t, cs, [&] {
    rejected = 0;
    for (client* x : cs) rejected += x->finished();
    return rejected == 1;
  }));
  CHECK_EQ(loop_count(t.l), 2u);
  for (client* x : cs) {
    x->send("still here");
    x->shutdown_after_send();
  }
  CHECK(drive(t, cs, [&] { return all_finished(cs) && loop_count(t.l) == 0; }));
  int echoed = 0;
  for (client* x : cs) echoed += x->in == "still here";
  CHECK_EQ(echoed, 2);
  check_event_order(t);
}

TEST(writable_after_backlog) {
  loop_config cfg = small_config();
  cfg.conn.sndbuf = 65536;
  test_loop t(cfg);
  t.handler = echo_handler;
  client a(t.bound);
  a.reading = false;
  std::string payload = random_bytes(1 << 20, 9);
  a.send(payload);
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return a.done_sending(); }));
  CHECK(drive(t, cs, [&] {
    // Everything read (so no later echo can cross the watermark again), and backed up.
    return t.count(EV_OPEN) == 1 && t.stat(ST_BYTES_IN) == static_cast<double>(payload.size()) &&
           t.row(t.log[0].slot)[CT_OUT] > static_cast<int32_t>(cfg.write_high);
  }));
  // Backed up above the watermark now (an earlier crossing may have drained into
  // the kernel's buffers already, as reads came in pieces): one more EV_WRITABLE
  // is owed, and comes once the client reads.
  size_t before = t.count(EV_WRITABLE);
  a.reading = true;
  // A completion backend learns that its last send finished after the peer may
  // already hold the bytes: wait for the loop to say outbound is empty too.
  CHECK(drive(t, cs, [&] { return a.in.size() == payload.size() && t.row(t.log[0].slot)[CT_OUT] == 0; }));
  CHECK(a.in == payload);
  CHECK_EQ(t.count(EV_WRITABLE), before + 1);
  CHECK_EQ(t.row(t.log[0].slot)[CT_OUT], 0);
  check_event_order(t);
}

TEST(posted_tasks) {
  test_loop t;
  client a(t.bound);
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 1; }));
  name n = server_name(t, a);
  std::thread poster([&] {
    for (uint32_t i = 1; i <= 50; i++) {
      task w;
      w.kind = TASK_WRITE;
      w.slot = n.slot;
      w.gen = n.gen;
      w.tag = i;
      w.data = std::vector<uint8_t>(i, static_cast<uint8_t>(i));
      CHECK_EQ(loop_post(t.l, std::move(w)), 0);
      if (i % 10 == 0) {
        task k;
        k.kind = TASK_WAKE;
        k.slot = n.slot;
        k.gen = n.gen;
        CHECK_EQ(loop_post(t.l, std::move(k)), 0);
      }
    }
  });
  poster.join();
  std::string expect;
  for (uint32_t i = 1; i <= 50; i++) expect += std::string(i, static_cast<char>(i));
  CHECK(drive(t, cs, [&] { return a.in.size() == expect.size(); }));
  CHECK(a.in == expect);
  auto done = t.of_type(EV_TASK_DONE);
  CHECK_EQ(done.size(), 50u);
  for (size_t i = 0; i < done.size(); i++) {
    CHECK_EQ(done[i].slot, static_cast<int32_t>(i + 1));  // in posting order
    CHECK_EQ(done[i].arg, 0);
  }
  CHECK_EQ(t.count(EV_WAKE), 5u);
  task c;
  c.kind = TASK_CLOSE;
  c.slot = n.slot;
  c.gen = n.gen;
  CHECK_EQ(loop_post(t.l, std::move(c)), 0);
  CHECK(drive(t, cs, [&] { return a.finished() && loop_count(t.l) == 0; }));
  CHECK(a.eof);
  check_event_order(t);
  loop_close_tasks(t.l);
  task late;
  late.kind = TASK_STOP;  // names no connection: only the closed queue can refuse it
  CHECK_EQ(loop_post(t.l, std::move(late)), -ESHUTDOWN);
}

TEST(posted_write_to_closing_connection_reports_failure) {
  // A write posted after a graceful close began must not report success: its bytes
  // are never sent.
  loop_config cfg = small_config();
  cfg.conn.sndbuf = 65536;
  test_loop t(cfg);
  t.handler = echo_handler;
  client a(t.bound);
  a.reading = false;
  a.send(random_bytes(512 * 1024, 5));
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return a.done_sending(); }));
  CHECK(drive(t, cs, [&] { return t.stat(ST_BYTES_IN) == 512 * 1024 && t.row(t.log[0].slot)[CT_OUT] > 0; }));
  name n = server_name(t, a);
  t.op(OP_CLOSE, n.slot, n.gen);  // graceful: stays open while the backlog drains
  CHECK_EQ(loop_apply_ops(t.l), 0);
  CHECK(t.row(n.slot)[CT_FLAGS] & CF_CLOSING);
  task w;
  w.kind = TASK_WRITE;
  w.slot = n.slot;
  w.gen = n.gen;
  w.tag = 5;
  w.data.assign(10, 'x');
  CHECK_EQ(loop_post(t.l, std::move(w)), 0);
  CHECK(drive(t, cs, [&] { return t.count(EV_TASK_DONE) == 1; }));
  CHECK_MSG(t.of_type(EV_TASK_DONE)[0].arg != 0, "posted write to a closing connection reported success");
  a.reading = true;
  CHECK(drive(t, cs, [&] { return a.finished() && loop_count(t.l) == 0; }));
  CHECK_EQ(a.in.size(), 512u * 1024);  // the close flushed the echo queued before it
  CHECK(a.eof);
  check_event_order(t);
}

TEST(writes_after_close_are_dropped_in_later_applies_too) {
  // A graceful close is still draining when more writes are applied: they must be
  // dropped like writes after the close in the same op list, never sent after a
  // dropped one (that would leave a hole in the stream).
  loop_config cfg = small_config();
  cfg.conn.sndbuf = 65536;
  test_loop t(cfg);
  client a(t.bound);
  a.reading = false;
  std::vector<client*> cs{&a};
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 1; }));
  name n = server_name(t, a);
  std::string head = random_bytes(2 << 20, 11);
  const uint8_t tail1[] = "dropped-1", tail2[] = "dropped-2";
  t.op_write(n.slot, n.gen, reinterpret_cast<const uint8_t*>(head.data()), head.size());
  t.op(OP_CLOSE, n.slot, n.gen);
  t.op_write(n.slot, n.gen, tail1, sizeof(tail1));  // after the close, same list
  CHECK_EQ(loop_apply_ops(t.l), 0);
  CHECK(t.row(n.slot)[CT_FLAGS] & CF_CLOSING);  // still draining: the client is not reading
  t.op_write(n.slot, n.gen, tail2, sizeof(tail2));  // after the close, a later apply
  CHECK_EQ(loop_apply_ops(t.l), 0);
  a.reading = true;
  CHECK(drive(t, cs, [&] { return a.finished() && loop_count(t.l) == 0; }));
  CHECK(a.eof);
  CHECK_EQ(a.in.size(), head.size());
  CHECK(a.in == head);
  check_event_order(t);
}

TEST(stale_poll_event_does_not_reach_the_slots_next_connection) {
  // One poll returns [wake, listener, old connection's reset] in that order: the
  // wake closes the old connection (TASK_CLOSE), the accept puts a new one in the
  // freed slot, and the old connection's error event, fetched before either, must
  // not be taken for the new connection's.
  test_loop t;
  t.handler = echo_handler;
  client old(t.bound);
  std::vector<client*> cs{&old};
  CHECK(drive(t, cs, [&] { return t.count(EV_OPEN) == 1; }));
  name was = server_name(t, old);
  // epoll re-queues a level-triggered fd it just reported; one more look drops the
  // listener from its ready list, so the order below is the order things happen.
  CHECK_EQ(t.run(0), 0);
  task c;
  c.kind = TASK_CLOSE;
  c.slot = was.slot;
  c.gen = was.gen;
  CHECK_EQ(loop_post(t.l, std::move(c)), 0);     // 1: the wake fd is ready
  client fresh(t.bound);                          // 2: the listener is ready
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  old.reset();                                    // 3: the old socket has an error
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(t.run(100) >= 3);
  CHECK_EQ(t.count(EV_OPEN), 2u);
  event opened = t.of_type(EV_OPEN)[1];
  name now{static_cast<uint32_t>(opened.slot), static_cast<uint32_t>(opened.gen)};
  CHECK_EQ(now.slot, was.slot);  // the scenario needs the slot reused in this poll
  CHECK_MSG(t.live(now.slot, now.gen), "the new connection was closed by the old one's event (errno %d)",
            t.of_type(EV_CLOSE).back().arg);
  fresh.send("still fine");
  cs = {&fresh};
  CHECK(drive(t, cs, [&] { return fresh.in.size() >= 10 || fresh.finished(); }));
  CHECK_EQ(fresh.in, std::string("still fine"));
  check_event_order(t);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
