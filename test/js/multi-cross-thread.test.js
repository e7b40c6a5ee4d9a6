'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, connect, readBytes, closed, until } = require('./helpers');
const { fixture, reports } = require('./multi-helpers');

test('asyncWrite, wake and asyncClose from the main thread reach the right connection', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 2 });
  try {
    const a = await connect(engine);
    await until(() => r.of('open').length === 1, 5000, 'open');
    const { handle, loop } = r.of('open')[0];
    ringnet.asyncWrite(handle, 'from main ');
    engine.asyncWrite(handle, Buffer.from('in order')); // the same, through the engine
    assert.strictEqual((await readBytes(a, 18)).toString(), 'from main in order');
    ringnet.wake(handle);
    assert.strictEqual((await readBytes(a, 6)).toString(), `woke@${loop}`);
    ringnet.asyncClose(handle);
    await closed(a);
  } finally {
    await engine.stop();
    r.close();
  }
});

test('asyncWrite from another loop', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 2 });
  try {
    const a = await connect(engine); // loop 0
    const b = await connect(engine); // loop 1
    await until(() => r.of('open').length === 2, 5000, 'opens');
    // Loops report from their own threads: match by port, not by arrival order.
    const oa = r.openOf(a);
    const ob = r.openOf(b);
    assert.notStrictEqual(oa.loop, ob.loop);
    const got = readBytes(b, 'hello from the other loop'.length);
    a.write(`relay:${JSON.stringify({ handle: ob.handle, text: 'hello from the other loop' })}`);
    assert.strictEqual((await got).toString(), 'hello from the other loop');
    assert.strictEqual((await readBytes(a, 7)).toString(), 'relayed');
    a.destroy();
    b.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});

test('a handle to a closed connection never reaches the newer connection in its slot', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 2 });
  try {
    const a = await connect(engine);
    await until(() => r.of('open').length === 1, 5000, 'open');
    const old = r.of('open')[0].handle;
    a.destroy();
    await until(() => r.of('close').length === 1, 5000, 'close');
    // Round-robin: skip loop 1 so the next connection lands on loop 0, slot reused.
    const skip = await connect(engine);
    const b = await connect(engine);
    await until(() => r.of('open').length === 3, 5000, 'reopens');
    const fresh = r.openOf(b).handle;
    assert.strictEqual(fresh.loop, old.loop);
    assert.strictEqual(fresh.slot, old.slot);
    assert.notStrictEqual(fresh.gen, old.gen);
    // A handle to a closed connection reports it, and reaches nothing.
    assert.throws(() => ringnet.asyncWrite(old, 'STALE'), { code: 'ERR_RINGNET_CONN_CLOSED' });
    assert.throws(() => ringnet.wake(old), { code: 'ERR_RINGNET_CONN_CLOSED' });
    assert.throws(() => ringnet.asyncClose(old), { code: 'ERR_RINGNET_CONN_CLOSED' });
    ringnet.asyncWrite(fresh, 'fresh');
    const got = await readBytes(b, 5);
    assert.strictEqual(got.toString(), 'fresh');
    await new Promise((res) => setTimeout(res, 50));
    assert.strictEqual(b.readableLength, 0, 'nothing else arrived');
    assert.ok(!b.destroyed);
    skip.destroy();
    b.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});

test('cross-thread calls on a stopped engine throw ERR_RINGNET_CLOSED; bad handles throw', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 2 });
  const a = await connect(engine);
  await until(() => r.of('open').length === 1, 5000, 'open');
  const { handle } = r.of('open')[0];
  a.destroy();
  await engine.stop();
  r.close();
  assert.throws(() => ringnet.asyncWrite(handle, 'x'), { code: 'ERR_RINGNET_CLOSED' });
  assert.throws(() => ringnet.asyncWrite({}, 'x'), { code: 'ERR_INVALID_ARG_TYPE' });
});
