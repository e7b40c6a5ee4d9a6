'use strict';
// Async tasks: each worker still runs one task at a time, and a worker's own event loop
// keeps running (timers left behind by tasks fire while the worker waits for work).
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, gate, sleep, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('async tasks resolve; capacity counts them while they await', async () => {
  const p = new WorkerPool(TASKS, { size: 2 });
  pools.push(p);
  const g = gate();
  const tasks = Array.from({ length: 6 }, () => p.submit(g.sab, { name: 'asyncGate' }));
  await waitFor(() => p.running === 2, 10000, 'two async tasks running');
  assert.equal(p.waiting, 4);
  g.open();
  assert.deepEqual(await Promise.all(tasks), [1, 1, 1, 1, 1, 1]);
});

test('a timer a task leaves behind fires while its worker is idle', async () => {
  const p = new WorkerPool(TASKS, { size: 1, disablePurge: true });
  pools.push(p);
  const tid = await p.submit(null, { name: 'threadId' });
  const sab = new SharedArrayBuffer(4);
  const flag = new Int32Array(sab);
  assert.equal(await p.submit({ sab, ms: 50 }, { name: 'timerLater' }), true);
  await waitFor(() => Atomics.load(flag, 0) === 1, 10000, 'the worker-side timer to fire');
  // Once the timer has fired the worker's event loop is empty again: the worker must not
  // end with it (it waits for tasks with Atomics.waitAsync, which holds nothing open).
  await sleep(100);
  assert.equal(await p.submit(null, { name: 'threadId' }), tid, 'the same worker still takes tasks');
  assert.equal(p.workers, 1);
});

test('a microtask a sync task queues runs before its worker parks', async () => {
  const p = new WorkerPool(TASKS, { size: 1, disablePurge: true });
  pools.push(p);
  const sab = new SharedArrayBuffer(4);
  assert.equal(await p.submit(sab, { name: 'microtaskLater' }), true);
  await waitFor(() => Atomics.load(new Int32Array(sab), 0) === 1, 10000, 'the microtask to run');
});

test('idle pool does not keep the process alive (workers are unref-ed)', async () => {
  const { spawnSync } = require('child_process');
  const code = `
    const { WorkerPool } = require(${JSON.stringify(require.resolve('../../dist/pool/index.js'))});
    const p = new WorkerPool(${JSON.stringify(TASKS)}, { size: 2, disablePurge: true, preAlloc: true });
    p.submit(41, { name: 'add1' }).then((v) => console.log('result', v));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /result 42/);
});
