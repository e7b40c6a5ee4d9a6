'use strict';
// Handler module of examples/hash-server.js; each loop thread loads it.
const { WorkerPool } = require('..');

let pool;

module.exports = {
  onBoot(engine) {
    pool = WorkerPool.attach(engine.data.pool);
  },
  onTraffic(conn) {
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
      pool.submit({ password, handle: conn.handle }).catch((err) => {
        conn.asyncWrite(`error: ${err.code ?? err.message}\n`);
      });
    }
  },
};
