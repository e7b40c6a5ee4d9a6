'use strict';
// One pool for the whole process: created on the main thread, used from other threads.
//
// The main thread creates a WorkerPool that hashes passwords with crypto.pbkdf2Sync and
// hands `pool.handle` (plain data) to two "loop" threads, standing in for ringnet's event
// loop threads. Each attaches with WorkerPool.attach(handle) and submits hashes without
// ever blocking its own event loop; the pool's capacity is shared by everyone.
//
// usage: node examples/pool-pbkdf2.js   (after `npm run build:ts`)
const path = require('path');
const { Worker, isMainThread, workerData, parentPort } = require('worker_threads');
const { WorkerPool } = require('../dist/pool/index.js');

const TASK = path.join(__dirname, 'pool-pbkdf2-task.js');

async function loopThread() {
  const pool = WorkerPool.attach(workerData.handle);
  const started = Date.now();
  // The event loop stays free while hashes are computed: this timer keeps ticking.
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  const hashes = await Promise.all(
    Array.from({ length: 40 }, (_, i) => pool.submit({ password: `user-${workerData.id}-${i}`, salt: 'ringnet' })),
  );
  clearInterval(ticker);
  await pool.close();
  parentPort.postMessage({ id: workerData.id, count: hashes.length, first: hashes[0].slice(0, 16), ms: Date.now() - started, ticks });
}

async function main() {
  const pool = new WorkerPool(TASK, { size: 2 });
  const loops = [1, 2].map(
    (id) =>
      new Promise((resolve, reject) => {
        const w = new Worker(__filename, { workerData: { id, handle: pool.handle } });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  // The main thread submits too.
  const mine = await pool.submit({ password: 'main', salt: 'ringnet' });
  console.log(`main:   pbkdf2("main") = ${mine.slice(0, 16)}…`);
  for (const r of await Promise.all(loops)) {
    console.log(`loop ${r.id}: ${r.count} hashes in ${r.ms} ms (first ${r.first}…), its event loop ticked ${r.ticks} times meanwhile`);
  }
  await pool.release();
}

if (isMainThread) main();
else loopThread();
