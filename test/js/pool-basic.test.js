'use strict';
// Submitting tasks and getting results back: value types through shared memory and by
// message, named exports, ESM, workerData, env, bad task modules.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { pathToFileURL } = require('url');
const { WorkerPool } = require('../../dist/pool/index.js');
const { TASKS } = require('../fixtures/pool/helpers.js');

const FIX = path.join(__dirname, '..', 'fixtures', 'pool');
const pools = [];
function pool(file, opts) {
  const p = new WorkerPool(file, opts);
  pools.push(p);
  return p;
}
after(() => Promise.all(pools.map((p) => p.terminate())));

test('default export runs; run() is submit()', async () => {
  const p = pool(TASKS, { size: 2 });
  assert.equal(await p.submit(41), 41);
  assert.equal(await p.run('x'), 'x');
  assert.deepEqual(await Promise.all([1, 2, 3].map((x) => p.submit(x, { name: 'add1' }))), [2, 3, 4]);
});

test('values round-trip with their type', async () => {
  const p = pool(TASKS, { size: 2, slotBytes: 256 });
  const values = [
    0,
    -1.5,
    NaN,
    Infinity,
    -0,
    2 ** 53,
    '',
    'héllo wörld ✓ 𝄞',
    true,
    false,
    null,
    undefined,
    { a: 1, b: [1, 'two', { c: null }], d: 'é' },
    [1, 2, 3],
    { nested: { deep: { deeper: [true, false] } } },
    new Date(1234567890123),
    new Map([[1, 'a']]),
    new Set(['x']),
    10n ** 20n,
    { u: undefined, n: NaN },
    /ab+c/gi,
  ];
  for (const v of values) assert.deepEqual(await p.submit(v), v, `value ${String(v)}`);

  const buf = await p.submit(Buffer.from([1, 2, 3]));
  assert.ok(Buffer.isBuffer(buf));
  assert.deepEqual([...buf], [1, 2, 3]);
  const f64 = await p.submit(new Float64Array([1.5, -2]));
  assert.ok(f64 instanceof Float64Array);
  assert.deepEqual([...f64], [1.5, -2]);
  const u16 = await p.submit(new Uint16Array([65535, 1]).subarray(1));
  assert.ok(u16 instanceof Uint16Array);
  assert.deepEqual([...u16], [1]);
  const ab = await p.submit(new Uint8Array([9, 8]).buffer);
  assert.ok(ab instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(ab)], [9, 8]);
  const dv = await p.submit(new DataView(new Uint8Array([5, 6, 7]).buffer, 1));
  assert.ok(dv instanceof DataView);
  assert.equal(dv.byteLength, 2);
  assert.equal(dv.getUint8(0), 6);
  const big64 = await p.submit(new BigInt64Array([-1n]));
  assert.deepEqual([...big64], [-1n]);
});

test('values larger than a slot travel by message', async () => {
  const p = pool(TASKS, { size: 2, slotBytes: 64 });
  const long = 'y'.repeat(10000);
  assert.equal(await p.submit(long), long);
  assert.equal((await p.submit(100000, { name: 'big' })).length, 100000);
  const obj = { list: Array.from({ length: 500 }, (_, i) => ({ i })) };
  assert.deepEqual(await p.submit(obj), obj);
  const b = await p.submit(50000, { name: 'bigBuffer' });
  assert.ok(b instanceof Uint8Array);
  assert.equal(b.length, 50000);
  assert.equal(b[49999], 7);
  // Many at once, mixed with small ones.
  const res = await Promise.all(Array.from({ length: 50 }, (_, i) => p.submit(i % 2 ? long + i : i)));
  res.forEach((r, i) => assert.equal(r, i % 2 ? long + i : i));
});

test('transferList moves the buffer to the worker', async () => {
  const p = pool(TASKS, { size: 1 });
  const ab = new Uint8Array([1, 2, 3, 4]).buffer;
  const sum = await p.submit(ab, { name: 'sumBytes', transferList: [ab] });
  assert.equal(sum, 10);
  assert.equal(ab.byteLength, 0, 'detached after transfer');
});

test('values that cannot be cloned reject the submit only', async () => {
  const p = pool(TASKS, { size: 1 });
  await assert.rejects(p.submit(() => 1), /could not be cloned/);
  await assert.rejects(p.submit({ f() {} }), /could not be cloned/);
  assert.equal(await p.submit(1), 1);
  assert.equal(p.pending, 0);
});

test('ESM task module, default and named exports, file: URL', async () => {
  const p = pool(pathToFileURL(path.join(FIX, 'esm.mjs')), { size: 1 });
  assert.equal(await p.submit(21), 42);
  assert.equal(await p.submit('ringnet', { name: 'hello' }), 'hello ringnet');
});

test('a missing export rejects with ERR_POOL_TASK_NOT_FOUND', async () => {
  const p = pool(TASKS, { size: 1 });
  await assert.rejects(p.submit(1, { name: 'nope' }), (err) => {
    assert.equal(err.code, 'ERR_POOL_TASK_NOT_FOUND');
    assert.match(err.message, /"nope"/);
    return true;
  });
  await assert.rejects(p.submit(1, { name: 'notAFunction' }), { code: 'ERR_POOL_TASK_NOT_FOUND' });
  assert.equal(await p.submit(5), 5);
});

test('a task module that throws while loading rejects each task with that error', async () => {
  const p = pool(path.join(FIX, 'load-throws.js'), { size: 1 });
  await assert.rejects(p.submit(1), /task module failed to load/);
  await assert.rejects(p.submit(2), /task module failed to load/);
});

test('a task module that exits while loading fails the waiting tasks instead of respawning forever', async () => {
  const p = pool(path.join(FIX, 'exit-on-load.js'), { size: 1 });
  await assert.rejects(p.submit(1), { code: 'ERR_POOL_WORKER_EXIT' });
});

test('workerData and env reach the task module', async () => {
  const p = pool(TASKS, { size: 1, workerData: { tag: 'wd-1' }, env: { ...process.env, RINGNET_T: 'env-1' } });
  assert.equal(await p.submit(undefined, { name: 'workerData' }), 'wd-1');
  assert.equal(await p.submit('RINGNET_T', { name: 'env' }), 'env-1');
});

test('invalid options and arguments are reported', () => {
  assert.throws(() => new WorkerPool(TASKS, { size: 0 }), { code: 'ERR_POOL_INVALID_ARG' });
  assert.throws(() => new WorkerPool(TASKS, { size: 1.5 }), { code: 'ERR_POOL_INVALID_ARG' });
  assert.throws(() => new WorkerPool(TASKS, { expiry: -1 }), { code: 'ERR_POOL_INVALID_ARG' });
  assert.throws(() => new WorkerPool(''), { code: 'ERR_POOL_INVALID_ARG' });
  const p = pool(TASKS, { size: 1 });
  assert.throws(() => p.tune(0), { code: 'ERR_POOL_INVALID_ARG' });
  return assert.rejects(p.submit(1, { timeout: -5 }), { code: 'ERR_POOL_INVALID_ARG' });
});
