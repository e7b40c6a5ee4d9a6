'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, until } = require('./helpers');

test('peer reset while the server writes: onClose gets the error, the loop lives on', async () => {
  const errors = [];
  let opened = 0;
  const big = Buffer.alloc(1 << 20, 7);
  const engine = await ringnet.serve(
    {
      onOpen() {
        opened++;
      },
      onTraffic(c) {
        c.discard(c.inboundBuffered);
        // Keep writing so the reset lands mid-write.
        for (let i = 0; i < 16; i++) c.write(big);
      },
      onClose(c, err) {
        errors.push(err ? err.code : 'clean');
      },
    },
    LOOPBACK,
  );
  try {
    for (let round = 0; round < 5; round++) {
      const s = await connect(engine);
      s.pause();
      s.write('go');
      await until(() => opened === round + 1, 5000, 'open');
      await new Promise((r) => setTimeout(r, 20));
      s.resetAndDestroy();
    }
    await until(() => errors.length === 5, 10000, 'five onClose calls');
    for (const code of errors) assert.ok(['ECONNRESET', 'EPIPE', 'clean'].includes(code), `unexpected close reason ${code}`);
    assert.ok(errors.some((c) => c !== 'clean'), 'at least one reset should be reported as an error');
    assert.strictEqual(engine.countConnections(), 0);
    // Still serving.
    const s = await connect(engine);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('server reset(): the peer sees ECONNRESET', async () => {
  const engine = await ringnet.serve({ onTraffic: (c) => c.reset() }, LOOPBACK);
  try {
    const s = await connect(engine);
    const err = new Promise((resolve) => s.once('error', resolve));
    s.write('x');
    assert.strictEqual((await err).code, 'ECONNRESET');
  } finally {
    await engine.stop();
  }
});
