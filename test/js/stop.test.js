'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, connect, readBytes, closed, echo, fdCount } = require('./helpers');

test('stop() closes every connection, calls onClose for each, and frees the port', async () => {
  const fdsBefore = fdCount();
  let closes = 0;
  const engine = await ringnet.serve({ ...echo, onClose: () => void closes++ }, 'tcp://127.0.0.1:0');
  const port = engine.address.port;
  const socks = await Promise.all(Array.from({ length: 20 }, () => connect(engine)));
  socks[0].write('hi');
  assert.strictEqual((await readBytes(socks[0], 2)).toString(), 'hi');
  await engine.stop();
  await Promise.all(socks.map(closed));
  assert.strictEqual(closes, 20);
  assert.strictEqual(engine.countConnections(), 0);
  // Same port again: the listener is really gone.
  const again = await ringnet.serve(echo, `tcp://127.0.0.1:${port}`);
  assert.strictEqual(again.address.port, port);
  await again.stop();
  assert.strictEqual(fdCount(), fdsBefore, 'every fd the engine opened is closed');
});

test('stop() flushes queued outbound bytes before closing', async () => {
  const payload = Buffer.alloc(8 << 20, 3);
  let engine;
  engine = await ringnet.serve(
    {
      onTraffic(c) {
        c.discard(c.inboundBuffered);
        c.write(payload);
        engine.stop({ timeout: 20000 });
      },
    },
    'tcp://127.0.0.1:0',
  );
  const s = await connect(engine);
  s.write('go');
  const got = await readBytes(s, Infinity, 30000);
  assert.strictEqual(got.length, payload.length);
  assert.ok(got.equals(payload));
  await engine.stop();
});

test('stop() is idempotent and listeners refuse new connections afterwards', async () => {
  const engine = await ringnet.serve(echo, 'tcp://127.0.0.1:0');
  const p1 = engine.stop();
  const p2 = engine.stop();
  assert.strictEqual(p1, p2);
  await p1;
  await assert.rejects(connect(engine), { code: 'ECONNREFUSED' });
});

test('stop() delivers onClose for more connections than one batch of events holds', async () => {
  let closes = 0;
  // 16 events per batch, 200 connections: stop's closes overflow the events region many times.
  const engine = await ringnet.serve({ ...echo, onClose: () => void closes++ }, 'tcp://127.0.0.1:0', { batchEvents: 16 });
  const socks = await Promise.all(Array.from({ length: 200 }, () => connect(engine)));
  // Also in a native batch: 200 connections' data in one poll, 16 events at a time.
  await Promise.all(socks.map((s, i) => {
    const r = readBytes(s, 4);
    s.write(String(1000 + i));
    return r.then((b) => assert.strictEqual(b.toString(), String(1000 + i)));
  }));
  assert.strictEqual(engine.countConnections(), 200);
  await engine.stop();
  assert.strictEqual(closes, 200);
  await Promise.all(socks.map(closed));
});
