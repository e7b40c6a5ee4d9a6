'use strict';
// Randomised hammer: several threads submit at once with aborts, timeouts (which kill
// and replace workers), failures and by-message values mixed in. Every result must be
// right, nothing may hang, and the pool must end with nothing pending.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { Worker } = require('worker_threads');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, waitFor } = require('../fixtures/pool/helpers.js');
const { hammer } = require('../fixtures/pool/hammer.js');

const HAMMER = path.join(__dirname, '..', 'fixtures', 'pool', 'hammer.js');
const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

function remote(handle, seed, count) {
  return new Promise((resolve, reject) => {
    const w = new Worker(HAMMER, { workerData: { hammer: true, handle, seed, count } });
    w.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

test('hammer: main + 3 attached threads, random aborts/timeouts/failures/big values', { timeout: 120000 }, async () => {
  const p = new WorkerPool(TASKS, { size: 2, slotBytes: 512, slots: 64 });
  pools.push(p);
  const results = await Promise.all([hammer(p, 1, 1500), remote(p.handle, 2, 1500), remote(p.handle, 3, 1500), remote(p.handle, 4, 1500)]);
  for (const r of results) assert.deepEqual(r.wrong, []);
  const total = results.reduce((n, r) => n + r.counts.aborted + r.counts.timedOut, 0);
  assert.ok(total > 0, 'some tasks were cancelled');
  await waitFor(() => p.pending === 0, 20000, 'nothing pending');
  assert.ok(p.workers <= 2, `workers ${p.workers}`);
  // Still healthy.
  assert.deepEqual(await Promise.all([1, 2, 3].map((x) => p.submit(x, { name: 'add1' }))), [2, 3, 4]);
});
