'use strict';
// MultiPool (ants' MultiPool): several pools behind one submit.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('worker_threads');
const { MultiPool } = require('../../dist/pool/index.js');
const { TASKS, gate, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('roundRobin spreads tasks over the pools; getters sum them', async () => {
  const m = new MultiPool(TASKS, { pools: 2, size: 1 });
  pools.push(m);
  assert.equal(m.cap, 2);
  assert.equal(m.pools.length, 2);
  const g = gate();
  const held = Array.from({ length: 4 }, () => m.submit(g.sab, { name: 'gate' }));
  await waitFor(() => m.running === 2, 10000, 'one task running in each pool');
  assert.equal(m.pools[0].pending, 2);
  assert.equal(m.pools[1].pending, 2);
  assert.equal(m.waiting, 2);
  g.open();
  await Promise.all(held);
  assert.equal(await m.run(3, { name: 'add1' }), 4);
});

test('leastTasks picks the least loaded pool', async () => {
  const m = new MultiPool(TASKS, { pools: 3, size: 1, strategy: 'leastTasks' });
  pools.push(m);
  const held = [m.submit(200, { name: 'sleep' }), m.submit(200, { name: 'sleep' })];
  assert.deepEqual(
    m.pools.map((p) => p.pending),
    [1, 1, 0],
  );
  const quick = m.submit(5);
  assert.equal(m.pools[2].pending, 1);
  assert.equal(await quick, 5);
  await Promise.all(held);
});

test('roundRobin + nonblocking: an overloaded pick retries on the least busy pool', async () => {
  const m = new MultiPool(TASKS, { pools: 2, size: 1, nonblocking: true });
  pools.push(m);
  const a = m.submit(150, { name: 'sleep' }); // pool 0
  const b = m.submit(1); // pool 1, quick
  await b;
  const c = m.submit(2); // round robin → pool 0 (busy) → retried on pool 1
  assert.equal(await c, 2);
  await a;
  // Both busy: refused.
  const d = m.submit(150, { name: 'sleep' });
  const e = m.submit(150, { name: 'sleep' });
  await assert.rejects(m.submit(3), { code: 'ERR_POOL_OVERLOAD' });
  await Promise.all([d, e]);
});

test('tune, release, reboot apply to every pool', async () => {
  const m = new MultiPool(TASKS, { pools: 2, size: 1 });
  pools.push(m);
  m.tune(3);
  assert.equal(m.cap, 6);
  await m.release();
  assert.equal(m.isClosed, true);
  await assert.rejects(m.submit(1), { code: 'ERR_POOL_CLOSED' });
  m.reboot();
  assert.equal(await m.submit(1), 1);
});

test('MultiPool.attach from another thread', async () => {
  const m = new MultiPool(TASKS, { pools: 2, size: 1 });
  pools.push(m);
  const code = `
    const { workerData, parentPort } = require('worker_threads');
    const { MultiPool } = require(${JSON.stringify(require.resolve('../../dist/pool/index.js'))});
    const mp = MultiPool.attach(workerData);
    Promise.all(Array.from({ length: 100 }, (_, i) => mp.submit(i, { name: 'add1' })))
      .then(async (r) => { await mp.close(); parentPort.postMessage(r.every((v, i) => v === i + 1)); });`;
  const ok = await new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: m.handle });
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.equal(ok, true);
});
