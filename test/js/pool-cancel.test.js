'use strict';
// Abort signals and timeouts: queued or running, the task rejects with ABORT_ERR /
// ERR_POOL_TIMEOUT and its capacity and slot come back.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, counters, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('an already aborted signal rejects at once', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  const ac = new AbortController();
  ac.abort(new Error('why'));
  await assert.rejects(p.submit(1, { signal: ac.signal }), (err) => {
    assert.equal(err.code, 'ABORT_ERR');
    assert.equal(err.name, 'AbortError');
    assert.equal(err.cause.message, 'why');
    return true;
  });
  assert.equal(p.pending, 0);
});

test('aborting a queued task: rejected, never runs, capacity kept', async () => {
  const c = counters();
  const p = new WorkerPool(TASKS, { size: 1, workerData: { counters: c.sab } });
  pools.push(p);
  const running = p.submit({ id: 1, ms: 200 }, { name: 'track' });
  const ac = new AbortController();
  const queued = p.submit({ id: 2, ms: 0 }, { name: 'track', signal: ac.signal });
  const after = p.submit({ id: 3, ms: 0 }, { name: 'track' });
  ac.abort();
  await assert.rejects(queued, { code: 'ABORT_ERR' });
  assert.deepEqual(await Promise.all([running, after]), [1, 3]);
  assert.deepEqual(Array.from(c.i32.subarray(3, 5)), [1, 3], 'the aborted task never ran');
  assert.equal(Atomics.load(c.i32, 2), 2);
  await waitFor(() => p.pending === 0);
});

test('aborting a running task: rejected, its worker replaced, the pool goes on', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  const tid = await p.submit(null, { name: 'threadId' });
  const ac = new AbortController();
  const hung = p.submit(null, { name: 'hang', signal: ac.signal });
  await waitFor(() => p.running === 1);
  ac.abort();
  await assert.rejects(hung, { code: 'ABORT_ERR' });
  const tid2 = await p.submit(null, { name: 'threadId' });
  assert.notEqual(tid2, tid, 'a new worker');
  assert.ok(p.workers <= 1);
});

test('timeout of a running task: ERR_POOL_TIMEOUT naming the task', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  await assert.rejects(p.submit(null, { name: 'hang', timeout: 50 }), (err) => {
    assert.equal(err.code, 'ERR_POOL_TIMEOUT');
    assert.match(err.message, /"hang" timed out after 50 ms/);
    return true;
  });
  assert.equal(await p.submit(9), 9);
});

test('timeout while queued counts the wait; an in-time task resolves normally', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  const busy = p.submit(300, { name: 'sleep' });
  await assert.rejects(p.submit(1, { timeout: 30 }), { code: 'ERR_POOL_TIMEOUT' });
  assert.equal(await p.submit(5, { timeout: 20000 }), 5);
  assert.equal(await busy, 300);
});

test('no slot leaks: many cancelled tasks, then the pool still works at full speed', async () => {
  const p = new WorkerPool(TASKS, { size: 2, slots: 16 });
  pools.push(p);
  const ac = new AbortController();
  const doomed = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 40; i++) doomed.push(p.submit(5, { name: 'sleep', signal: ac.signal }).catch((e) => e.code));
  }
  ac.abort();
  const codes = await Promise.all(doomed);
  assert.ok(codes.every((c) => c === 'ABORT_ERR' || c === 5), `codes ${[...new Set(codes)]}`);
  const res = await Promise.all(Array.from({ length: 200 }, (_, i) => p.submit(i)));
  assert.equal(res[199], 199);
  await waitFor(() => p.pending === 0);
  // Async tasks aborted mid-flight are killed too.
  await assert.rejects(p.submit(5000, { name: 'asyncSleep', timeout: 30 }), { code: 'ERR_POOL_TIMEOUT' });
  assert.equal(await p.submit(1), 1);
});
