'use strict';
// Issue 8, item 3: a handler that returns a promise. A rejection is a throw (that
// connection closes, onClose gets the error, the loop and the process live on); a
// resolved Action is applied.
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, until } = require('./helpers');

test('issue8-3: an async onTraffic that rejects closes its connection; others are served', async () => {
  const closes = [];
  const engine = await ringnet.serve(
    {
      async onTraffic(c) {
        const msg = c.next().toString();
        await new Promise((r) => setTimeout(r, 5));
        if (msg === 'boom') throw new Error('async boom');
        c.write(`ok ${msg}`);
      },
      onClose: (c, err) => void closes.push(err),
    },
    LOOPBACK,
  );
  try {
    const bad = await connect(engine);
    const good = await connect(engine);
    bad.write('boom');
    const badEnd = readBytes(bad, Infinity);
    assert.strictEqual((await badEnd).length, 0, 'the failing connection is closed without a reply');
    await until(() => closes.length === 1, 5000, 'onClose of the failing connection');
    assert.ok(closes[0] instanceof Error);
    assert.strictEqual(closes[0].message, 'async boom');
    const reply = readBytes(good, 5);
    good.write('hi');
    assert.strictEqual((await reply).toString(), 'ok hi', 'the loop lives on');
    good.destroy();
  } finally {
    await engine.stop();
  }
});

test('issue8-3: async onOpen / onWritable rejections and non-Error rejections close with an Error', async () => {
  const closes = [];
  const engine = await ringnet.serve(
    {
      onOpen: async () => Promise.reject('plain string'), // eslint-disable-line prefer-promise-reject-errors
      onClose: (c, err) => void closes.push(err),
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    await readBytes(s, Infinity);
    await until(() => closes.length === 1, 5000, 'onClose');
    assert.ok(closes[0] instanceof Error);
    assert.match(closes[0].message, /plain string/);
  } finally {
    await engine.stop();
  }
});

test('issue8-3: a resolved Action.Close is applied after the reply', async () => {
  const engine = await ringnet.serve(
    {
      async onTraffic(c) {
        const msg = Buffer.from(c.next());
        await Promise.resolve();
        c.write(msg);
        return ringnet.Action.Close;
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    const all = readBytes(s, Infinity);
    s.write('bye');
    assert.strictEqual((await all).toString(), 'bye');
    await until(() => engine.countConnections() === 0, 5000, 'the close');
  } finally {
    await engine.stop();
  }
});

test('issue8-3: a rejection after the connection closed is a warning, not a crash', async () => {
  const warnings = [];
  const onWarn = (w) => warnings.push(w);
  process.on('warning', onWarn);
  let release;
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        c.next();
        return new Promise((_, rej) => (release = () => rej(new Error('late'))));
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    s.write('x');
    await until(() => release, 5000, 'onTraffic');
    s.destroy();
    await until(() => engine.countConnections() === 0, 5000, 'the close');
    await new Promise((r) => setTimeout(r, 20));
    release();
    await until(() => warnings.some((w) => w.message === 'late'), 5000, 'the warning');
  } finally {
    process.off('warning', onWarn);
    await engine.stop();
  }
});
