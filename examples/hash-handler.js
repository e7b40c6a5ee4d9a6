'use strict';
// Handler module of examples/hash-server.js; each loop thread loads it.
const { WorkerPool, asyncClose } = require('..');

let pool;

// The connection closes once the peer has finished sending (onEnd; the engine runs
// with allowHalfOpen) and every reply is out: `printf 'secret\n' | nc -N …` and
// socat get their answers, then EOF.
function settle(conn) {
  const st = conn.context;
  // asyncClose goes through the loop's task queue behind the pool worker's
  // asyncWrite, so the reply is sent before the close.
  if (st.ended && st.inFlight === 0) asyncClose(conn.handle);
}

module.exports = {
  onBoot(engine) {
    pool = WorkerPool.attach(engine.data.pool);
  },
  onOpen(conn) {
    conn.context = { inFlight: 0, ended: false };
  },
  onTraffic(conn) {
    const st = conn.context;
    // One request per line; a partial line waits in the inbound buffer.
    for (;;) {
      const buf = conn.peek();
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const password = buf.toString('utf8', 0, nl);
      conn.discard(nl + 1);
      // The task answers the connection itself (asyncWrite from the pool worker).
      // Tasks run in parallel, so pipelined lines may be answered out of order;
      // each reply starts with its request.
      st.inFlight++;
      pool
        .submit({ password, handle: conn.handle })
        .catch((err) => conn.asyncWrite(`error: ${err.code ?? err.message}\n`))
        .finally(() => {
          st.inFlight--;
          settle(conn);
        });
    }
  },
  onEnd(conn) {
    conn.context.ended = true;
    settle(conn);
  },
};
