'use strict';
// ants' nonblocking mode and MaxBlockingTasks: refusals are immediate and exact.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('nonblocking: a submit when all workers are busy rejects at once with ERR_POOL_OVERLOAD', async () => {
  const p = new WorkerPool(TASKS, { size: 2, nonblocking: true });
  pools.push(p);
  const a = p.submit(200, { name: 'sleep' });
  const b = p.submit(200, { name: 'sleep' });
  await assert.rejects(p.submit(1), (err) => {
    assert.equal(err.code, 'ERR_POOL_OVERLOAD');
    assert.match(err.message, /busy/);
    return true;
  });
  assert.deepEqual(await Promise.all([a, b]), [200, 200]);
  assert.equal(await p.submit(7), 7, 'accepts again once a worker is free');
});

test('maxBlockingTasks: at most that many wait; the next is refused', async () => {
  const p = new WorkerPool(TASKS, { size: 1, maxBlockingTasks: 2 });
  pools.push(p);
  const running = p.submit(200, { name: 'sleep' });
  const w1 = p.submit(1);
  const w2 = p.submit(2);
  await assert.rejects(p.submit(3), (err) => {
    assert.equal(err.code, 'ERR_POOL_OVERLOAD');
    assert.match(err.message, /maxBlockingTasks/);
    return true;
  });
  assert.deepEqual(await Promise.all([running, w1, w2]), [200, 1, 2]);
  await waitFor(() => p.pending === 0);
  assert.equal(await p.submit(4), 4);
});

test('maxBlockingTasks 0 means unlimited', async () => {
  const p = new WorkerPool(TASKS, { size: 1, maxBlockingTasks: 0 });
  pools.push(p);
  const res = await Promise.all(Array.from({ length: 300 }, (_, i) => p.submit(i)));
  assert.equal(res.length, 300);
  assert.equal(res[299], 299);
});
