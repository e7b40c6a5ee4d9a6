'use strict';
// Idle workers expire (ants' purge), the pool grows back on demand, disablePurge keeps
// them, preAlloc starts them all up front.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, gate, waitFor, sleep } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('idle workers exit after expiry and the pool grows back on demand', async () => {
  const p = new WorkerPool(TASKS, { size: 3, expiry: 100 });
  pools.push(p);
  const g = gate();
  const held = Array.from({ length: 3 }, () => p.submit(g.sab, { name: 'gate' }));
  await waitFor(() => p.running === 3, 10000, 'three running');
  assert.equal(p.workers, 3);
  g.open();
  await Promise.all(held);
  await waitFor(() => p.workers === 0, 10000, 'idle workers to expire');
  assert.equal(p.running, 0);
  const ids = await Promise.all(Array.from({ length: 3 }, () => p.submit(50, { name: 'sleep' })));
  assert.deepEqual(ids, [50, 50, 50]);
  assert.ok(p.workers >= 1 && p.workers <= 3, `workers ${p.workers}`);
});

test('a busy worker does not expire', async () => {
  const p = new WorkerPool(TASKS, { size: 1, expiry: 200 });
  pools.push(p);
  const first = await p.submit(null, { name: 'threadId' });
  assert.equal(await p.submit(600, { name: 'sleep' }), 600);
  assert.equal(await p.submit(null, { name: 'threadId' }), first, 'same worker after a long task');
});

test('disablePurge keeps idle workers', async () => {
  const p = new WorkerPool(TASKS, { size: 2, expiry: 20, disablePurge: true });
  pools.push(p);
  await Promise.all([p.submit(20, { name: 'sleep' }), p.submit(20, { name: 'sleep' })]);
  await sleep(300);
  assert.equal(p.workers, 2);
});

test('preAlloc starts every worker now; they still expire unless disablePurge', async () => {
  const p = new WorkerPool(TASKS, { size: 3, preAlloc: true, disablePurge: true });
  pools.push(p);
  assert.equal(p.workers, 3);
  await p.ready();
  assert.equal(await p.submit(1), 1);
  assert.equal(p.workers, 3);

  const q = new WorkerPool(TASKS, { size: 2, preAlloc: true, expiry: 50 });
  pools.push(q);
  assert.equal(q.workers, 2);
  await waitFor(() => q.workers === 0, 10000, 'pre-allocated idle workers to expire');
});
