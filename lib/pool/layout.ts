/**
 * Shared-memory layout of the worker pool. Everything here is an index into an
 * `Int32Array` over a SharedArrayBuffer, so every thread (owner, attached clients,
 * workers) agrees on where each word lives without sending any description around.
 *
 * Two kinds of block:
 * - the **pool block** (one per pool): configuration, admission counters, the worker
 *   records and the submission queue (SQ), a multi-producer multi-consumer ring of
 *   task references;
 * - a **client block** (one per submitting thread): that thread's task slots and its
 *   completion queue (CQ), a multi-producer (workers) single-consumer ring.
 *
 * Words written by different threads sit on different 64-byte cache lines (16 words)
 * so that, e.g., producers bumping the SQ tail do not evict the line consumers spin on.
 */

/** Int32 words per cache line. */
export const LINE = 16;

// ---- pool block: header lines -------------------------------------------------

/** Magic number that tags a pool block, checked by `attach`. */
export const MAGIC = 0x52_4e_50_4c; // "RNPL"
/** Bumped whenever this layout changes; `attach` refuses other versions. */
export const LAYOUT_VERSION = 1;

export const P_MAGIC = 0;
export const P_VERSION = 1;
export const P_CAP = 2; // capacity (max tasks running at once); written by tune()
export const P_FLAGS = 3; // F_* below
export const P_MAX_BLOCKING = 4; // 0 = unlimited
export const P_EXPIRY_MS = 5; // idle worker lifetime; 0 with F_DISABLE_PURGE
export const P_SQ_CAP = 6; // number of SQ cells (power of two)
export const P_MAX_WORKERS = 7; // number of worker records
export const P_NEXT_CLIENT = 8; // next client id (owner is 0)
export const P_RECORDS_HWM = 9; // 1 + highest worker record index ever used

/** Admitted tasks (queued + running) in the low bits; PENDING_CLOSED when released. */
export const P_PENDING = LINE * 1;
export const PENDING_CLOSED = 1 << 30;
export const PENDING_COUNT = PENDING_CLOSED - 1;

/** Worker threads alive or starting (not retired). */
export const P_LIVE = LINE * 2;
/** Sleep tickets: a parking worker takes the next one, so wakers can pick the latest. */
export const P_SLEEP_TICKET = LINE * 3;
/** Workers parked (or about to park) on their W_WAKE word. */
export const P_SLEEPERS = LINE * 4;
export const P_SQ_HEAD = LINE * 5;
export const P_SQ_TAIL = LINE * 6;
/** 1 while a spawn request from an attached client is on its way to the owner. */
export const P_SPAWN_REQ = LINE * 7;

export const F_NONBLOCKING = 1;
export const F_DISABLE_PURGE = 2;

/** First word of the worker records. */
export const P_WORKERS = LINE * 8;
/** One cache line per worker record. */
export const W_STRIDE = LINE;
export const W_STATE = 0; // WS_*
export const W_CUR = 1; // task being run: (client << 16) | slot, or -1
export const W_CUR_SEQ = 2; // that slot's sequence number
export const W_NOTIFY = 3; // futex word the owner bumps after posting a control message
export const W_GEN = 4; // spawn generation, to tell a record's successive occupants apart
/** 1 while the worker is idle but awake (about to poll the queue again): no need to wake it. */
export const W_AWAKE = 5;
/** 1 while the worker is parked (or about to park); a waker claims it by CAS to 0. */
export const W_ASLEEP = 6;
/** The worker's sleep ticket (P_SLEEP_TICKET when it parked). */
export const W_SLEPT = 7;
/** Futex word the worker parks on; a waker bumps it, then notifies. */
export const W_WAKE = 8;

export const WS_FREE = 0;
export const WS_STARTING = 1;
export const WS_READY = 2;
export const WS_RETIRED = 3;

/** Ring cells are 4 words: [sequence, a, b, unused]. */
export const CELL = 4;

/** Total Int32 words of a pool block. */
export function poolBlockWords(maxWorkers: number, sqCap: number): number {
  return P_WORKERS + maxWorkers * W_STRIDE + sqCap * CELL;
}

/** Word index of the SQ's first cell. */
export function sqBase(maxWorkers: number): number {
  return P_WORKERS + maxWorkers * W_STRIDE;
}

// ---- client block ---------------------------------------------------------------

export const C_MAGIC = 0;
export const C_ID = 1;
export const C_SLOTS = 2;
export const C_SLOT_BYTES = 3; // payload bytes per slot
export const C_CQ_CAP = 4;
/** Futex word the client waits on (Atomics.waitAsync); bumped by producers. */
export const C_CQ_SIGNAL = LINE * 1;
/** 1 while the client is parked on C_CQ_SIGNAL. */
export const C_SLEEPING = LINE * 2;
export const C_CQ_HEAD = LINE * 3;
export const C_CQ_TAIL = LINE * 4;
export const C_CQ_BASE = LINE * 5;

/** Bytes of a slot header; the payload follows it. */
export const SLOT_HEADER = 32;
/** Header words (Int32 index from the slot's first word). */
export const S_CTRL = 0; // (seq << 3) | state
export const S_TAG = 1; // payload tag (codec.ts), arg on the way in, result on the way out
export const S_LEN = 2; // payload bytes
export const S_NAME_LEN = 3; // bytes of the task name at the start of the payload
export const S_NUM = 4; // f64 at words 4..5 (byte offset 16): inline number payload
export const S_WORKER = 6; // index of the worker record that runs the task
export const S_AUX = 7; // tag-specific extra (e.g. typed-array kind)

/** Slot states, the low 3 bits of S_CTRL. */
export const ST_FREE = 0;
export const ST_QUEUED = 1;
export const ST_RUNNING = 2;
export const ST_DONE = 3;
/** Cancelled by its submitter (abort/timeout) while queued or running. */
export const ST_CANCELLED = 4;
/** Cancelled and no longer referenced by any worker: the submitter may reuse it. */
export const ST_DEAD = 5;

export const SEQ_MASK = (1 << 28) - 1;

export function ctrl(seq: number, state: number): number {
  return ((seq & SEQ_MASK) << 3) | state;
}

/** Round up to a power of two (≥ 2). */
export function pow2(n: number): number {
  let p = 2;
  while (p < n) p *= 2;
  return p;
}

/** Byte stride of one slot (header + payload, 8-byte aligned). */
export function slotStride(slotBytes: number): number {
  return SLOT_HEADER + ((slotBytes + 7) & ~7);
}

/** Byte offset of the first slot in a client block. */
export function slotsOffset(cqCap: number): number {
  return (C_CQ_BASE + cqCap * CELL) * 4;
}

export function clientBlockBytes(slots: number, slotBytes: number, cqCap: number): number {
  return slotsOffset(cqCap) + slots * slotStride(slotBytes);
}

/** Task reference carried in rings: client id and slot index in one int. */
export function taskKey(client: number, slot: number): number {
  return (client << 16) | slot;
}
