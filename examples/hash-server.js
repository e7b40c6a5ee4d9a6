'use strict';
// gnet + ants in Node: a line-based server whose reply is a blocking hash
// (crypto.pbkdf2Sync), computed on a worker pool so the event loops never block.
// The pool task writes the reply straight back to the connection from the pool
// worker with ringnet.asyncWrite(handle, …).
//
//   node examples/hash-server.js            # then: printf 'secret\n' | nc -N 127.0.0.1 9100
const path = require('node:path');
const { serve, WorkerPool } = require('..');

async function main() {
  // One pool for the whole engine, made here on the main thread.
  const pool = new WorkerPool(path.join(__dirname, 'hash-task.js'), { size: 2 });
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 9100;
  const engine = await serve(path.join(__dirname, 'hash-handler.js'), `tcp://127.0.0.1:${port}`, {
    loops: 2,
    allowHalfOpen: true, // answer clients that half-close after their request (nc -N, socat)
    data: { pool: pool.handle }, // every loop attaches to the same pool
  });
  console.log(`hash server on ${engine.addr} (2 loops, pool of 2)`);
  const stop = async () => {
    await engine.stop();
    await pool.release();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main();
