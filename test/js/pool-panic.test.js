'use strict';
// A task that throws rejects its promise and calls onPanic; the worker survives.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS } = require('../fixtures/pool/helpers.js');

const pools = [];
after(() => Promise.all(pools.map((p) => p.terminate())));

test('thrown errors keep class, message, code and props; onPanic gets them; worker survives', async () => {
  const panics = [];
  const p = new WorkerPool(TASKS, { size: 1, onPanic: (err, task) => panics.push({ err, task }) });
  pools.push(p);
  const tid = await p.submit(null, { name: 'threadId' });
  await assert.rejects(p.submit('boom', { name: 'fail' }), (err) => {
    assert.ok(err instanceof RangeError);
    assert.equal(err.message, 'boom');
    assert.equal(err.code, 'E_TASK');
    assert.deepEqual(err.detail, { n: 1 });
    assert.match(err.stack, /tasks\.js/);
    return true;
  });
  await assert.rejects(p.submit('later', { name: 'failAsync' }), (err) => err instanceof TypeError && err.message === 'later');
  await assert.rejects(p.submit({ not: 'an error' }, { name: 'throwValue' }), (v) => {
    assert.deepEqual(v, { not: 'an error' });
    return true;
  });
  assert.equal(panics.length, 3);
  assert.equal(panics[0].err.message, 'boom');
  assert.deepEqual(panics[0].task, { name: 'fail', arg: 'boom' });
  assert.equal(panics[1].task.name, 'failAsync');
  assert.equal(await p.submit(null, { name: 'threadId' }), tid, 'same worker thread');
});

test('a huge error message still arrives (by message)', async () => {
  const p = new WorkerPool(TASKS, { size: 1, slotBytes: 64 });
  pools.push(p);
  const msg = 'm'.repeat(5000);
  await assert.rejects(p.submit(msg, { name: 'fail' }), (err) => err instanceof RangeError && err.message === msg && err.code === 'E_TASK');
});

test('without onPanic the rejection is all', async () => {
  const p = new WorkerPool(TASKS, { size: 1 });
  pools.push(p);
  await assert.rejects(p.submit('x', { name: 'fail' }), { code: 'E_TASK' });
  assert.equal(await p.submit(2), 2);
});
