// Mirror of native/core/loop/layout.h: the memory the native loop shares with JS.
// Change both together.

export const EV_COUNT = 0;
export const EV_OVERFLOW = 1;
export const EV_HEADER = 4;
export const EV_STRIDE = 4;
export const EV_OPEN = 1;
export const EV_DATA = 2;
export const EV_CLOSE = 3;
export const EV_WRITABLE = 4;
export const EV_WAKE = 5;
export const EV_TASK_DONE = 6;

export const CT_STRIDE = 8;
export const CT_GEN = 0;
export const CT_BUF = 1;
export const CT_START = 2;
export const CT_END = 3;
export const CT_OUT = 4;
export const CT_FLAGS = 5;
export const CT_FD = 6;
export const CF_OPEN = 1;
export const CF_PAUSED = 2;
export const CF_CLOSING = 4;
export const CF_PEER_EOF = 8;

export const OP_COUNT = 0;
export const OP_STAGED = 1;
export const OP_REFS = 2;
export const OP_HEADER = 4;
export const OP_STRIDE = 5;
export const OP_WRITE = 1;
export const OP_WRITE_REF = 2;
export const OP_CLOSE = 3;
export const OP_SHUTDOWN_WR = 4;
export const OP_RESUME = 5;
export const OP_WRITE_ARENA = 6;

/** Order of the Float64 stats region. */
export const STAT_NAMES = [
  'accepts', 'closes', 'reads', 'bytesIn', 'writes', 'bytesOut', 'batches',
  'events', 'polls', 'connections', 'acceptErrors', 'rejected', 'pauses', 'tasks',
] as const;

/** Task kinds for cross-thread posts (native/core/loop/taskq.h). */
export const TASK_WRITE = 0;
export const TASK_CLOSE = 1;
export const TASK_WAKE = 2;
export const TASK_ADOPT = 3;
