'use strict';
// Capacity is never exceeded, waiting submitters start in FIFO order, and the getters
// (cap, running, waiting, free, workers) tell the truth.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, counters, gate, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('never more tasks running than the capacity (counted inside the workers)', async () => {
  const c = counters();
  const p = new WorkerPool(TASKS, { size: 3, workerData: { counters: c.sab } });
  pools.push(p);
  const tasks = Array.from({ length: 60 }, (_, id) => p.submit({ id, ms: 2 }, { name: 'track' }));
  assert.deepEqual(await Promise.all(tasks), Array.from({ length: 60 }, (_, id) => id));
  assert.equal(Atomics.load(c.i32, 2), 60, 'all started');
  assert.ok(Atomics.load(c.i32, 1) <= 3, `max concurrent ${Atomics.load(c.i32, 1)} > cap 3`);
  assert.ok(p.workers <= 3);
});

test('waiting submitters start in FIFO order', async () => {
  const c = counters();
  const p = new WorkerPool(TASKS, { size: 1, workerData: { counters: c.sab } });
  pools.push(p);
  const ids = Array.from({ length: 40 }, (_, id) => id);
  await Promise.all(ids.map((id) => p.submit({ id, ms: 0 }, { name: 'track' })));
  assert.deepEqual(Array.from(c.i32.subarray(3, 43)), ids);
});

test('FIFO holds past the slot count (local backlog) too', async () => {
  const c = counters(600);
  const p = new WorkerPool(TASKS, { size: 1, slots: 8, queueSize: 16, workerData: { counters: c.sab } });
  pools.push(p);
  const ids = Array.from({ length: 500 }, (_, id) => id);
  const res = await Promise.all(ids.map((id) => p.submit({ id, ms: 0 }, { name: 'track' })));
  assert.deepEqual(res, ids);
  assert.deepEqual(Array.from(c.i32.subarray(3, 503)), ids);
});

test('getters: cap, running, waiting, free, workers, pending', async () => {
  const p = new WorkerPool(TASKS, { size: 2 });
  pools.push(p);
  assert.equal(p.cap, 2);
  assert.equal(p.running, 0);
  assert.equal(p.waiting, 0);
  assert.equal(p.free, 2);
  assert.equal(p.workers, 0, 'workers start on demand');
  const g = gate();
  const held = Array.from({ length: 5 }, () => p.submit(g.sab, { name: 'gate' }));
  await waitFor(() => p.running === 2, 10000, 'two running');
  assert.equal(p.waiting, 3);
  assert.equal(p.free, 0);
  assert.equal(p.pending, 5);
  assert.equal(p.workers, 2);
  g.open();
  await Promise.all(held);
  assert.equal(p.running, 0);
  assert.equal(p.waiting, 0);
  assert.equal(p.pending, 0);
});
