'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, closed, until } = require('./helpers');

test('a throwing onTraffic closes only its connection; onClose sees the error; the loop lives on', async () => {
  const closeErrors = [];
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        const msg = c.next().toString();
        if (msg === 'boom') throw new Error('handler exploded');
        c.write(msg);
      },
      onClose(c, err) {
        closeErrors.push(err && err.message);
      },
    },
    LOOPBACK,
  );
  try {
    const good = await connect(engine);
    const bad = await connect(engine);
    bad.write('boom');
    await closed(bad);
    await until(() => closeErrors.length === 1, 5000, 'onClose');
    assert.deepStrictEqual(closeErrors, ['handler exploded']);
    good.write('still ok');
    assert.strictEqual((await readBytes(good, 8)).toString(), 'still ok');
    good.destroy();
  } finally {
    await engine.stop();
  }
});

test('a throwing onOpen closes that connection', async () => {
  let err;
  const engine = await ringnet.serve(
    {
      onOpen() {
        throw new TypeError('nope');
      },
      onClose: (c, e) => void (err = e),
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    await closed(s);
    await until(() => err !== undefined, 5000, 'onClose');
    assert.ok(err instanceof TypeError);
  } finally {
    await engine.stop();
  }
});

test('a throwing onClose does not kill the loop', async () => {
  let warned = 0;
  const onWarn = () => warned++;
  process.on('warning', onWarn);
  const engine = await ringnet.serve(
    {
      onClose() {
        throw new Error('close handler failed');
      },
      onTraffic(c) {
        c.write(c.next());
      },
    },
    LOOPBACK,
  );
  try {
    const a = await connect(engine);
    a.destroy();
    await until(() => warned > 0, 5000, 'warning');
    const b = await connect(engine);
    b.write('ok');
    assert.strictEqual((await readBytes(b, 2)).toString(), 'ok');
    b.destroy();
  } finally {
    process.off('warning', onWarn);
    await engine.stop();
  }
});
