// Memory shared between the native loop and its JS side, as Int32/Float64 views.
// The one source of truth: lib/layout.ts is generated from this file by
// `node scripts/gen-layout.js` (test/js/layout.test.js fails on any drift). The
// generator reads `constexpr int NAME = N;` and enum lines `NAME = N,`; a stat's
// trailing comment is its JS name. Bump LAYOUT_VERSION on any change: the addon
// reports it and lib/native.ts refuses a binary built for another layout.
#pragma once
#include <cstdint>

namespace rn {
namespace layout {

constexpr int LAYOUT_VERSION = 7;

// events region (Int32): header, then records written by native, read by JS.
constexpr int EV_COUNT = 0;     // records present; JS resets it to 0 after dispatch
constexpr int EV_OVERFLOW = 1;  // records waiting beyond the region (loop_refill_events)
constexpr int EV_HEADER = 4;
constexpr int EV_STRIDE = 4;    // [type, slot, gen, arg]
enum ev_type : int32_t {
  EV_OPEN = 1,      // new connection
  EV_DATA = 2,      // inbound bytes arrived (arg: bytes read this time)
  EV_CLOSE = 3,     // connection closed (arg: errno, 0 = clean)
  EV_WRITABLE = 4,  // outbound fell back under the low watermark
  EV_WAKE = 5,      // wake() from any thread
  EV_TASK_DONE = 6, // a posted write finished: [type, tag, 0, errno (0 = sent or queued)]
  EV_END = 7,       // the peer finished sending (FIN), after all its bytes were delivered
  EV_TLS_ERROR = 8, // a TLS connection failed before its handshake finished (no EV_OPEN came; arg as EV_CLOSE)
  EV_TIMEOUT = 9,   // a deadline passed (arg: TMO_* kind); only with timeout_events
  EV_DIAL_FAIL = 10,// a dial failed: [type, tag, 0, errno]; a dial that connects is an EV_OPEN with arg = its tag
  EV_TLS_SNI = 11,  // a TLS handshake waits for the host's SNICallback (loop_tls_sni_answer); no EV_OPEN yet
};
// EV_CLOSE / EV_TLS_ERROR arg at or above this: a TLS failure, arg - TLS_ERR_BASE
// indexes the loop's table of codes (loop_tls_error); below it: an errno.
constexpr int TLS_ERR_BASE = 1048576;

// connection table (Int32), one row per slot.
constexpr int CT_STRIDE = 8;
constexpr int CT_GEN = 0;    // generation of the live connection (native writes)
constexpr int CT_BUF = 1;    // inbound buffer id, -1 = none (native writes)
constexpr int CT_START = 2;  // first unconsumed inbound byte (JS advances it)
constexpr int CT_END = 3;    // end of inbound bytes (native writes)
constexpr int CT_OUT = 4;    // bytes waiting in the native outbound buffer (native writes)
constexpr int CT_FLAGS = 5;  // CF_* (native writes)
constexpr int CT_FD = 6;
constexpr int CT_FRAMES = 7; // codec connections: this batch's frame list in the frames buffer (Int32 index; native writes)
enum conn_flags : int32_t { CF_OPEN = 1, CF_PAUSED = 2, CF_CLOSING = 4, CF_PEER_EOF = 8 };

// frames buffer (Int32; issue 12, loop/loop_codec.cc): per batch, one list per codec
// connection with EV_DATA, at the row's CT_FRAMES: a head [count, status, detail],
// then count records [payload offset, payload length, frame end] in the CT_BUF buffer.
// JS sets CT_START to each frame's end as it delivers it.
constexpr int FR_STRIDE = 3;
enum frame_status : int32_t {
  FR_DONE = 0,      // every complete frame buffered is listed
  FR_MORE = 1,      // the buffer filled: more frames follow in a later batch (another EV_DATA)
  FR_TOO_LARGE = 2, // after the listed frames, one over max_frame (detail: its size in bytes, or as far as known)
  FR_INVALID = 3,   // after the listed frames, a length field that makes no frame (detail: the frame size it gives)
};

// ops region (Int32): requests recorded by JS, applied by native after each batch.
constexpr int OP_COUNT = 0;
constexpr int OP_STAGED = 1;    // bytes of staging in use
constexpr int OP_REFS = 2;      // host references recorded (host clears them after apply)
constexpr int OP_EPOCH = 3;     // bumped by native each time ops are applied
constexpr int OP_HEADER = 4;
constexpr int OP_STRIDE = 5;    // [op, slot, gen, a, b]
enum op_type : int32_t {
  OP_WRITE = 1,      // a = staging offset, b = length
  OP_WRITE_REF = 2,  // a = index into the host's reference list, b = length
  OP_CLOSE = 3,      // flush what is queued, then close
  OP_SHUTDOWN_WR = 4,// flush, then half-close the write side
  OP_RESUME = 5,     // inbound was consumed outside a batch: resume reading if paused
  OP_WRITE_ARENA = 6,// a = offset in this batch's read arena, b = length (echoing a view)
  OP_TIMEOUT = 7,    // a = TMO_* kind, b = milliseconds (0 = off); the clock starts now
};

// Deadline kinds (OP_TIMEOUT, EV_TIMEOUT); the same values as loop/deadlines.h dl_kind.
enum timeout_kind : int32_t {
  TMO_IDLE = 0,   // no bytes either way
  TMO_READ = 1,   // no inbound bytes
  TMO_WRITE = 2,  // queued outbound bytes not drained
};

// stats region (Float64).
enum stat : int {
  ST_ACCEPTS = 0,        // accepts
  ST_CLOSES = 1,         // closes
  ST_READS = 2,          // reads
  ST_BYTES_IN = 3,       // bytesIn
  ST_WRITES = 4,         // writes
  ST_BYTES_OUT = 5,      // bytesOut
  ST_BATCHES = 6,        // batches
  ST_EVENTS = 7,         // events
  ST_POLLS = 8,          // polls
  ST_CONNS = 9,          // connections
  ST_ACCEPT_ERRORS = 10, // acceptErrors
  ST_REJECTED = 11,      // rejected
  ST_PAUSES = 12,        // pauses
  ST_TASKS = 13,         // tasks
  ST_TLS_HANDSHAKES = 14,// tlsHandshakes
  ST_TLS_ERRORS = 15,    // tlsErrors
  ST_COUNT = 16
};

// Socket options a connection sets from JS (Conn.setNoDelay & co., loop connOpt).
enum conn_opt : int32_t {
  COPT_NODELAY = 0,   // a = on
  COPT_KEEPALIVE = 1, // a = on, b = initial delay in seconds
  COPT_SNDBUF = 2,    // a = bytes
  COPT_RCVBUF = 3,    // a = bytes
};

}  // namespace layout
}  // namespace rn
