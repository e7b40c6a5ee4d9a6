'use strict';
// release, releaseTimeout, terminate, reboot, and submit after release.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS, gate, waitFor } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('release: running tasks finish, waiting ones reject with ERR_POOL_CLOSED, workers exit', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  const g = gate();
  const running = p.submit(g.sab, { name: 'gate' });
  await waitFor(() => p.running === 1);
  const waiting = p.submit(1);
  const released = p.release();
  assert.equal(p.isClosed, true);
  await assert.rejects(waiting, { code: 'ERR_POOL_CLOSED' });
  g.open();
  assert.equal(await running, 1);
  await released;
  assert.equal(p.workers, 0);
});

test('submit after release rejects with ERR_POOL_CLOSED', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  await p.submit(1);
  await p.release();
  await assert.rejects(p.submit(2), (err) => {
    assert.equal(err.code, 'ERR_POOL_CLOSED');
    assert.match(err.message, /closed/);
    return true;
  });
});

test('releaseTimeout: resolves when tasks finish in time', async () => {
  const p = new WorkerPool(TASKS, { size: 2 });
  pools.push(p);
  const t = p.submit(50, { name: 'sleep' });
  await waitFor(() => p.running === 1);
  await p.releaseTimeout(10000);
  assert.equal(await t, 50);
  assert.equal(p.workers, 0);
});

test('releaseTimeout: tasks that outlast it are terminated and it rejects with ERR_POOL_TIMEOUT', async () => {
  const p = new WorkerPool(TASKS, { size: 2 });
  pools.push(p);
  const hung = p.submit(null, { name: 'hang' });
  await waitFor(() => p.running === 1);
  await assert.rejects(p.releaseTimeout(50), (err) => {
    assert.equal(err.code, 'ERR_POOL_TIMEOUT');
    assert.match(err.message, /releaseTimeout\(50\)/);
    return true;
  });
  await assert.rejects(hung, { code: 'ERR_POOL_CLOSED' });
  assert.equal(p.workers, 0);
});

test('terminate: everything stops now', async () => {
  const p = new WorkerPool(TASKS, { size: 2 });
  pools.push(p);
  const hung = [p.submit(null, { name: 'hang' }), p.submit(null, { name: 'hang' }), p.submit(1)];
  await waitFor(() => p.running === 2);
  const settled = Promise.allSettled(hung);
  await p.terminate();
  for (const r of await settled) {
    assert.equal(r.status, 'rejected');
    assert.equal(r.reason.code, 'ERR_POOL_CLOSED');
  }
  assert.equal(p.workers, 0);
  assert.equal(p.pending, 0);
});

test('reboot: a released pool takes tasks again (preAlloc restarts its workers)', async () => {
  const p = new WorkerPool(TASKS, { size: 2, preAlloc: true, disablePurge: true });
  pools.push(p);
  await p.ready();
  await p.release();
  assert.equal(p.isClosed, true);
  p.reboot();
  assert.equal(p.isClosed, false);
  assert.equal(p.workers, 2);
  assert.deepEqual(await Promise.all([p.submit(1), p.submit(2)]), [1, 2]);
  await p.terminate();
  p.reboot();
  assert.equal(await p.submit(3), 3);
});

test('reboot while a release is still waiting for a running task: the pool carries on, the process can exit', async () => {
  const { spawnSync } = require('child_process');
  const code = `
    const { WorkerPool } = require(${JSON.stringify(require.resolve('../../dist/pool/index.js'))});
    const p = new WorkerPool(${JSON.stringify(TASKS)}, { size: 1, disablePurge: true });
    (async () => {
      const long = p.submit(100, { name: 'sleep' });
      while (p.running === 0) await new Promise((r) => setTimeout(r, 2));
      const released = p.release();
      p.reboot();
      await released;
      console.log('results', await long, await p.submit(5, { name: 'add1' }));
    })();`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /results 100 6/);
});
