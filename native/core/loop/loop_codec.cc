// Framing codecs on the loop (issue 12): connections with a codec get their
// inbound bytes cut into frames here, natively, once per batch.
//
//   before each batch (deliver -> decode_frames): for every EV_DATA of a codec
//     connection in the events region, the decoder (codec/) runs over its
//     unconsumed bytes and writes the frame list (layout.h FR_*) to the frames
//     buffer, at the row's CT_FRAMES. JS hands each frame to onMessage as a view
//     of the same memory and moves CT_START past it, so a partial frame stays
//     behind and the usual leftover path keeps it (arena -> own buffer).
//   after the batch (settle_touched -> codec_settle): a connection whose list
//     ended at a bad frame closes (if the host did not close it already); one
//     whose list was cut by a full buffer gets another EV_DATA (codec_refeed),
//     and so another batch, before its FIN may close it.
//
// Everything read back from shared memory is checked (slots, generations): JS
// garbage never makes the decoder read outside a connection's bytes.
#include "loop/loop_impl.h"

namespace rn {

int loop_add_codec(loop* l, const codec_spec& s) {
  if (codec_validate(s) < 0) return -EINVAL;
  const uint64_t most = codec_max_stream_bytes(s);
  if (most == 0 || most > (uint64_t{1} << 30)) return -EINVAL;
  codec_state& cs = l->codecs;
  if (cs.table.size() >= kMaxCodecs) return -ENOSPC;
  if (cs.frames.id < 0) {
    // batchEvents records a batch (list heads included), at least kMinFrameRecords:
    // more frames follow in further batches of the same deliver() (C_MORE_FRAMES),
    // whose 1000 rounds then cover even an arena of 1-byte frames.
    uint32_t records = l->cfg.events_cap < kMinFrameRecords ? kMinFrameRecords : l->cfg.events_cap;
    size_t bytes = static_cast<size_t>(records) * FR_STRIDE * 4;
    void* mem = l->host.alloc.alloc(l->host.alloc.ud, bytes, &cs.frames.id);
    if (!mem) return -ENOMEM;
    cs.frames.data = static_cast<uint8_t*>(mem);
    cs.frames.cap = static_cast<uint32_t>(bytes);
    cs.frames_cap = records * FR_STRIDE;
  }
  codec_entry e;
  e.spec = s;
  e.cap = most > l->cfg.inbound_limit ? static_cast<uint32_t>(most) : l->cfg.inbound_limit;
  cs.table.push_back(e);
  return static_cast<int>(cs.table.size());
}

int loop_set_accept_codec(loop* l, int id) {
  if (id < 0 || static_cast<size_t>(id) > l->codecs.table.size()) return -EINVAL;
  l->codecs.accept = static_cast<uint16_t>(id);
  return 0;
}

int32_t loop_frames_id(const loop* l) { return l->codecs.frames.id; }

void loop::decode_frames() {
  codecs.frames_used = 0;
  const int32_t n = shm.events[EV_COUNT];
  for (int32_t i = 0; i < n && static_cast<uint32_t>(i) < cfg.events_cap; i++) {
    const int32_t* r = shm.events + EV_HEADER + static_cast<size_t>(i) * EV_STRIDE;
    if (r[0] != EV_DATA) continue;
    const uint32_t slot = static_cast<uint32_t>(r[1]), gen = static_cast<uint32_t>(r[2]);
    if (!conns.live(slot, gen)) continue;
    conn& c = conns[slot];
    if (c.codec) decode_conn(slot, c);
  }
}

void loop::decode_conn(uint32_t slot, conn& c) {
  int32_t* fr = reinterpret_cast<int32_t*>(codecs.frames.data);
  int32_t* r = row(slot);
  if (codecs.frames_used + FR_STRIDE > codecs.frames_cap) {
    r[CT_FRAMES] = -1;  // no room for even the head: all of it next batch
    c.flags |= C_MORE_FRAMES;
    return;
  }
  const codec_spec& s = codecs.table[c.codec - 1u].spec;
  const uint32_t head = codecs.frames_used;
  codecs.frames_used += FR_STRIDE;
  uint32_t pos = start_of(slot, c);
  const uint32_t end = c.in_end;
  const uint8_t* base = c.in_arena ? arena.data : c.in.data;
  int32_t count = 0, status = FR_DONE;
  int64_t detail = 0;
  while (base && pos < end) {
    if (codecs.frames_used + FR_STRIDE > codecs.frames_cap) {
      status = FR_MORE;
      c.flags |= C_MORE_FRAMES;
      break;
    }
    frame f;
    const int rc = codec_next(s, base + pos, end - pos, &f);
    if (rc == 0) break;
    if (rc < 0 || f.consumed == 0) {
      status = rc == -EMSGSIZE ? FR_TOO_LARGE : FR_INVALID;
      detail = codec_frame_size(s, base + pos, end - pos);
      c.flags |= C_FRAME_BAD;
      break;
    }
    int32_t* rec = fr + codecs.frames_used;
    rec[0] = static_cast<int32_t>(pos + f.start);
    rec[1] = static_cast<int32_t>(f.len);
    rec[2] = static_cast<int32_t>(pos + f.consumed);
    codecs.frames_used += FR_STRIDE;
    count++;
    pos += static_cast<uint32_t>(f.consumed);
  }
  fr[head] = count;
  fr[head + 1] = status;
  fr[head + 2] = detail > INT32_MAX ? INT32_MAX : detail < INT32_MIN ? INT32_MIN : static_cast<int32_t>(detail);
  r[CT_FRAMES] = static_cast<int32_t>(head);
}

// After the batch's ops: true when the rest of settle_touched must wait (the
// connection closed, or more of its frames go in the next batch first).
bool loop::codec_settle(uint32_t slot, conn& c) {
  if (c.flags & C_FRAME_BAD) {
    // The host closes it (FR_TOO_LARGE / FR_INVALID, gracefully: its replies to
    // the frames before go out). One that did not is closed here.
    if (!(c.flags & C_CLOSING)) close_conn(slot, -EMSGSIZE);
    return true;
  }
  if (c.flags & C_MORE_FRAMES) {
    c.flags &= ~C_MORE_FRAMES;
    if (!(c.flags & C_CLOSING)) {
      codecs.refeed.push_back(uint64_t{conns.gen(slot)} << 32 | slot);
      return true;
    }
  }
  return false;
}

// Connections with frames the last batch had no room for: another EV_DATA each,
// which deliver() hands over in its next round.
void loop::codec_refeed() {
  std::vector<uint64_t> todo;
  todo.swap(codecs.refeed);
  for (uint64_t k : todo) {
    const uint32_t slot = static_cast<uint32_t>(k), gen = static_cast<uint32_t>(k >> 32);
    if (!conns.live(slot, gen)) continue;
    conn& c = conns[slot];
    if (c.flags & (C_IN_BATCH | C_CLOSING)) continue;
    c.flags |= C_IN_BATCH;
    touched.push_back(slot);
    emit(EV_DATA, slot, gen, 0);
  }
}

}  // namespace rn
