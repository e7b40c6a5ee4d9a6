// The ops JS recorded in a batch (or a flush outside one), applied in order per
// connection: writes (staging copies, references, views of the read arena),
// close, half-close, resume. Everything in the ops region is JS-written and is
// checked before it is read (issue 8; fuzzed by test/fuzz/fuzz_ops.cc).
#include "loop/loop_impl.h"
#include "sys/clock.h"

namespace rn {

int loop_apply_ops(loop* l) {
  l->now_ms = mono_ms();
  int r = l->apply_ops();
  l->submit();
  return r;
}

int loop::apply_ops() {
  int32_t count = shm.ops[OP_COUNT];
  if (applying) return 0;
  if (count <= 0) {
    if (count < 0) shm.ops[OP_COUNT] = 0;  // garbage: nothing to apply, start over
    return 0;
  }
  // Everything in the ops region is JS-written: a count past the region, or a
  // write outside staging, is rejected here rather than read (issue 8 fuzzing).
  if (static_cast<uint32_t>(count) > cfg.ops_cap) count = static_cast<int32_t>(cfg.ops_cap);
  applying = true;
  for (int32_t i = 0; i < count; i++) {
    const int32_t* op = shm.ops + OP_HEADER + static_cast<size_t>(i) * OP_STRIDE;
    uint32_t slot = static_cast<uint32_t>(op[1]), gen = static_cast<uint32_t>(op[2]);
    if (!conns.live(slot, gen)) continue;  // closed since JS recorded it
    conn& c = conns[slot];
    op_next[i] = -1;
    if (c.op_head < 0) {
      c.op_head = i;
      dirty.push_back(slot);
    } else {
      op_next[c.op_tail] = i;
    }
    c.op_tail = i;
  }
  for (uint32_t slot : dirty) {
    if (conns.used(slot)) apply_conn_ops(slot);
  }
  dirty.clear();
  shm.ops[OP_COUNT] = 0;
  shm.ops[OP_STAGED] = 0;
  shm.ops[OP_EPOCH]++;
  if (host.on_ops_done) host.on_ops_done(host.ud);
  applying = false;
  return 0;
}

void loop::apply_conn_ops(uint32_t slot) {
  conn& c = conns[slot];
  iovec_t iov[kIovMax];
  int n = 0;
  size_t total = 0;
  // Writes after a close are dropped, whether the close is earlier in this list or
  // came before it (an earlier apply, TASK_CLOSE): sending a later write after
  // dropping an earlier one would leave a hole in the stream.
  bool want_close = (c.flags & C_CLOSING) != 0, want_shut = false, resume = false;
  size_t queued = 0;  // every byte this op list writes (total resets per writev)
  const uint8_t* staging_end = nullptr;
  for (int32_t i = c.op_head; i >= 0; i = op_next[i]) {
    const int32_t* op = shm.ops + OP_HEADER + static_cast<size_t>(i) * OP_STRIDE;
    const uint8_t* p = nullptr;
    size_t len = 0;
    switch (op[0]) {
      case OP_WRITE:
        if (want_close) continue;
        if (op[3] < 0 || op[4] < 0 || static_cast<uint64_t>(op[3]) + static_cast<uint32_t>(op[4]) > cfg.staging_size) continue;
        p = shm.staging + op[3];
        len = static_cast<uint32_t>(op[4]);
        // Consecutive small writes: one iovec. Only onto the iovec that ends at p
        // (a zero-length write moves staging_end without adding one; found by fuzzing).
        if (n > 0 && p == staging_end && p == static_cast<uint8_t*>(iov[n - 1].iov_base) + iov[n - 1].iov_len) {
          iov[n - 1].iov_len += len;
          total += len;
          queued += len;
          staging_end = p + len;
          continue;
        }
        staging_end = p + len;
        break;
      case OP_WRITE_REF:
        if (!host.resolve_ref || op[3] < 0 || host.resolve_ref(host.ud, op[3], &p, &len) < 0) continue;
        staging_end = nullptr;
        break;
      case OP_WRITE_ARENA:
        // JS records these only inside a batch, whose arena bytes stay put
        // until settle_touched(), which runs after the ops are applied.
        if (want_close) continue;
        if (op[3] < 0 || op[4] < 0 || static_cast<uint64_t>(op[3]) + static_cast<uint32_t>(op[4]) > arena.cap) continue;
        p = arena.data + op[3];
        len = static_cast<uint32_t>(op[4]);
        if (n > 0 && p == static_cast<uint8_t*>(iov[n - 1].iov_base) + iov[n - 1].iov_len && p != staging_end) {
          iov[n - 1].iov_len += len;  // consecutive views of one read: one iovec
          total += len;
          queued += len;
          continue;
        }
        staging_end = nullptr;
        break;
      case OP_CLOSE: want_close = true; break;
      case OP_SHUTDOWN_WR: want_shut = true; break;
      case OP_RESUME: resume = true; break;
      case OP_TIMEOUT:  // a = kind, b = ms (0 = off)
        if (op[3] >= 0 && op[3] < DL_KINDS && op[4] >= 0)
          dl_set(wheel, c.dl, static_cast<dl_kind>(op[3]), static_cast<uint32_t>(op[4]), now_ms, !c.out.empty());
        break;
    }
    if (len == 0 || want_close) continue;
    queued += len;
    if (n == kIovMax) {
      if (!send(slot, c, iov, n, total)) return;
      n = 0;
      total = 0;
    }
    iov[n].iov_base = const_cast<uint8_t*>(p);
    iov[n].iov_len = len;
    n++;
    total += len;
  }
  c.op_head = c.op_tail = -1;
  // JS's write() returned false once queued bytes reached write_high; promise
  // it an EV_WRITABLE even if the socket takes everything right now.
  if (c.out.size() + queued >= cfg.write_high) c.flags |= C_ABOVE_HIGH;
  if (!send(slot, c, iov, n, total)) return;
  if ((c.flags & C_ABOVE_HIGH) && c.out.size() <= cfg.write_high / 2) {
    c.flags &= ~C_ABOVE_HIGH;
    emit(EV_WRITABLE, slot, conns.gen(slot), 0);
  }
  // OP_RESUME: JS consumed bytes of a paused connection, in a batch or outside
  // one. Reading resumes only with room below the cap (a stray or repeated
  // OP_RESUME must not read past it); the MOD in set_interest() makes the
  // edge-triggered socket report what is already waiting.
  if (resume && (c.flags & C_PAUSED)) {
    if (c.in_end - start_of(slot, c) < in_limit(c)) c.flags &= ~C_PAUSED;
  }
  if (want_shut) c.flags |= C_SHUT_WR;
  if (want_close) c.flags |= C_CLOSING;
  if (c.out.empty() && (c.flags & (C_CLOSING | C_SHUT_WR))) {
    on_drained(slot, c);
    if (!conns.used(slot)) return;
  }
  set_interest(slot, c);
  publish(slot, c);
}

// Send iov now if nothing is queued ahead of it, keep whatever the socket did not
// take. Returns false if the connection was closed.
bool loop::send_raw(uint32_t slot, conn& c, iovec_t* iov, int n, size_t total) {
  if (n == 0) return true;
  size_t sent = 0;
  if (c.out.empty()) {
    ssize_t w = sock_writev(c.fd, iov, n);
    stat_add(ST_WRITES, 1);
    if (w < 0 && w != -EAGAIN) {
      close_conn(slot, static_cast<int>(w));
      return false;
    }
    if (w > 0) {
      sent = static_cast<size_t>(w);
      stat_add(ST_BYTES_OUT, static_cast<double>(w));
      dl_on_outbound(c.dl, now_ms);
    }
  }
  if (sent < total) {
    // The hard outbound cap (issue 8, item 5): a handler that keeps writing to a
    // peer that does not read is closed, ENOBUFS, instead of growing the process.
    if (cfg.outbound_limit && c.out.size() + (total - sent) > cfg.outbound_limit) {
      close_conn(slot, -ENOBUFS);
      return false;
    }
    if (c.out.empty()) dl_on_queued(wheel, c.dl, now_ms);
    size_t skip = sent;
    for (int i = 0; i < n; i++) {
      size_t len = iov[i].iov_len;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      if (c.out.append(chunks, static_cast<uint8_t*>(iov[i].iov_base) + skip, len - skip) < 0) {
        close_conn(slot, -ENOMEM);
        return false;
      }
      skip = 0;
    }
    if (c.out.size() > cfg.write_high) c.flags |= C_ABOVE_HIGH;
  }
  return true;
}

}  // namespace rn
