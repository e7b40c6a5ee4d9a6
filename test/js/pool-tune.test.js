'use strict';
// tune(size) at run time, while busy: growing starts workers for waiting tasks, shrinking
// lets surplus workers finish and leave; capacity holds throughout.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, counters, gate, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('tune up while busy: waiting tasks start on the new workers', async () => {
  const c = counters();
  const p = new WorkerPool(TASKS, { size: 1, workerData: { counters: c.sab } });
  pools.push(p);
  const g = gate();
  const tasks = Array.from({ length: 8 }, (_, id) => p.submit({ id, gate: g.sab }, { name: 'track' }));
  await waitFor(() => p.running === 1);
  p.tune(4);
  assert.equal(p.cap, 4);
  await waitFor(() => Atomics.load(c.i32, 0) === 4, 10000, 'four tasks running after tune(4)');
  assert.equal(p.waiting, 4);
  g.open();
  await Promise.all(tasks);
  assert.equal(Atomics.load(c.i32, 1), 4);
});

test('tune down while busy: running tasks finish, then no more than the new cap run', async () => {
  const c = counters();
  const p = new WorkerPool(TASKS, { size: 4, workerData: { counters: c.sab } });
  pools.push(p);
  const g = gate();
  const first = Array.from({ length: 4 }, (_, id) => p.submit({ id, gate: g.sab }, { name: 'track' }));
  await waitFor(() => Atomics.load(c.i32, 0) === 4, 10000, 'four running');
  p.tune(2);
  assert.equal(p.cap, 2);
  const rest = Array.from({ length: 10 }, (_, k) => p.submit({ id: 10 + k, ms: 20 }, { name: 'track' }));
  g.open();
  await Promise.all(first);
  // From here on the surplus workers have left: reset the high-water mark and watch.
  Atomics.store(c.i32, 1, Atomics.load(c.i32, 0));
  await Promise.all(rest);
  assert.ok(Atomics.load(c.i32, 1) <= 2, `max ${Atomics.load(c.i32, 1)} after tune(2)`);
  await waitFor(() => p.workers <= 2, 10000, 'surplus workers to exit');
});

test('tune down with idle workers: they leave promptly', async () => {
  const p = new WorkerPool(TASKS, { size: 4, preAlloc: true, disablePurge: true });
  pools.push(p);
  await p.ready();
  p.tune(1);
  await waitFor(() => p.workers === 1, 10000, 'idle workers to leave');
  assert.equal(await p.submit(3), 3);
});
