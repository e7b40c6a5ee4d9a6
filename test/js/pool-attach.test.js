'use strict';
// One pool, many submitting threads: a pool created on the main thread is attached from
// plain worker_threads (as ringnet's loop threads will) and used by all at once.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { Worker } = require('worker_threads');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, counters, waitFor } = require('../fixtures/pool/helpers.js');

const SUBMITTER = path.join(__dirname, '..', 'fixtures', 'pool', 'submitter.js');
const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

function runSubmitter(handle, id, count) {
  return new Promise((resolve, reject) => {
    const w = new Worker(SUBMITTER, { workerData: { handle, id, count } });
    w.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`submitter ${id} exited with ${code}`)));
  });
}

test('the handle is plain data: structured-cloneable, no transfer list needed', () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  const h = structuredClone(p.handle);
  assert.equal(h.kind, 'ringnet.pool');
  assert.ok(h.sab instanceof SharedArrayBuffer);
  assert.equal(typeof h.channel, 'string');
});

test('submitters on 2 worker threads + main at once: every result correct', async () => {
  const p = new WorkerPool(TASKS, { size: 2, slotBytes: 256 });
  pools.push(p);
  const handle = p.handle;
  const N = 3000;
  const mainJobs = Array.from({ length: N }, (_, i) => p.submit(i, { name: 'add1' }));
  const remote = await Promise.all([runSubmitter(handle, 1, N), runSubmitter(handle, 2, N), ...[]]);
  const mainRes = await Promise.all(mainJobs);
  mainRes.forEach((r, i) => assert.equal(r, i + 1));
  for (const r of remote) {
    assert.deepEqual(r.wrong, [], `submitter ${r.id} got wrong results`);
    assert.equal(r.done, N + 1);
    assert.equal(r.panics, N / 5, 'onPanic of the attached client was called for its failing tasks');
    assert.equal(r.cancelCode, 'ABORT_ERR');
    assert.equal(r.stats.cap, 2);
  }
  await waitFor(() => p.pending === 0, 10000, 'all tasks to settle');
  assert.ok(p.workers <= 2);
});

test('attached clients share the capacity with the owner', async () => {
  const c = counters();
  const p = new WorkerPool(TASKS, { size: 2, workerData: { counters: c.sab } });
  pools.push(p);
  // Tasks from the main thread and from a submitter thread, counted inside the workers.
  const mine = Array.from({ length: 20 }, (_, id) => p.submit({ id, ms: 3 }, { name: 'track' }));
  const theirs = runSubmitter(p.handle, 3, 200);
  await Promise.all([...mine, theirs]);
  assert.ok(Atomics.load(c.i32, 1) <= 2, `max concurrent ${Atomics.load(c.i32, 1)}`);
});

test('attach rejects what is not a pool handle', () => {
  assert.throws(() => WorkerPool.attach({}), { code: 'ERR_POOL_INVALID_ARG' });
  assert.throws(() => WorkerPool.attach(null), { code: 'ERR_POOL_INVALID_ARG' });
});

test('a released pool refuses attached submitters too', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  await p.release();
  const r = await new Promise((resolve, reject) => {
    const code = `
      const { workerData, parentPort } = require('worker_threads');
      const { WorkerPool } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'pool', 'index.js'))});
      const pool = WorkerPool.attach(workerData);
      pool.submit(1).then(() => parentPort.postMessage('resolved'), (e) => parentPort.postMessage(e.code));`;
    const w = new Worker(code, { eval: true, workerData: p.handle });
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.equal(r, 'ERR_POOL_CLOSED');
});
