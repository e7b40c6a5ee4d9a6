'use strict';
// A worker that dies (process.exit, uncaught exception, out of memory under
// resourceLimits) is replaced; its task rejects with ERR_POOL_WORKER_EXIT; capacity holds.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('process.exit() in a task: the task rejects, the worker is replaced', async () => {
  const p = new WorkerPool(TASKS, { size: 2 });
  pools.push(p);
  const before = await p.submit(null, { name: 'threadId' });
  await assert.rejects(p.submit(7, { name: 'exit' }), (err) => {
    assert.equal(err.code, 'ERR_POOL_WORKER_EXIT');
    assert.match(err.message, /exited with code 7/);
    return true;
  });
  const res = await Promise.all(Array.from({ length: 20 }, (_, i) => p.submit(i)));
  assert.equal(res[19], 19);
  assert.equal(p.cap, 2);
  assert.ok(p.workers <= 2);
  assert.equal(typeof before, 'number');
});

test('an uncaught exception in a worker fails its task with the error message', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  await assert.rejects(p.submit(null, { name: 'crashLater' }), (err) => {
    assert.equal(err.code, 'ERR_POOL_WORKER_EXIT');
    assert.match(err.message, /uncaught in worker/);
    return true;
  });
  assert.equal(await p.submit('still here'), 'still here');
});

test('out of memory under resourceLimits: rejected, replaced', async () => {
  const p = new WorkerPool(TASKS, { size: 1, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
  pools.push(p);
  await assert.rejects(p.submit(null, { name: 'oom' }), (err) => {
    assert.equal(err.code, 'ERR_POOL_WORKER_EXIT');
    assert.match(err.message, /ERR_WORKER_OUT_OF_MEMORY|memory/i);
    return true;
  });
  assert.equal(await p.submit(5, { name: 'add1' }), 6);
});

test('waiting tasks survive the crash of another task', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  const crash = p.submit(1, { name: 'exit' });
  const waiting = Array.from({ length: 10 }, (_, i) => p.submit(i, { name: 'add1' }));
  await assert.rejects(crash, { code: 'ERR_POOL_WORKER_EXIT' });
  assert.deepEqual(await Promise.all(waiting), Array.from({ length: 10 }, (_, i) => i + 1));
});

test('a preAlloc pool replaces a crashed worker at once', async () => {
  const p = new WorkerPool(TASKS, { size: 2, preAlloc: true, disablePurge: true });
  pools.push(p);
  await p.ready();
  await assert.rejects(p.submit(1, { name: 'exit' }), { code: 'ERR_POOL_WORKER_EXIT' });
  await waitFor(() => p.workers === 2, 10000, 'replacement worker');
});
