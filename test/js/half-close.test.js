'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { ringnet, LOOPBACK, connect, readBytes, sha256, until, echo } = require('./helpers');

test('peer half-close: everything sent before FIN is echoed, then the server closes', async () => {
  let closeErr = 'not called';
  const engine = await ringnet.serve({ ...echo, onClose: (c, err) => void (closeErr = err) }, LOOPBACK);
  try {
    const s = await connect(engine, { allowHalfOpen: true });
    const data = crypto.randomBytes(3 << 20);
    const reply = readBytes(s, Infinity, 30000);
    s.end(data); // write, then FIN
    const got = await reply;
    assert.strictEqual(sha256(got), sha256(data));
    await until(() => closeErr !== 'not called', 5000, 'onClose');
    assert.strictEqual(closeErr, undefined, 'a clean half-close is not an error');
  } finally {
    await engine.stop();
  }
});

test('server half-close: shutdownWrite sends FIN and keeps reading', async () => {
  const got = [];
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.write('bye');
        c.shutdownWrite();
      },
      onTraffic(c) {
        got.push(c.next().toString());
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine, { allowHalfOpen: true });
    const all = await readBytes(s, Infinity); // resolves on the server's FIN
    assert.strictEqual(all.toString(), 'bye');
    s.write('still here');
    await until(() => got.join('') === 'still here', 5000, 'server to read after its FIN');
    s.destroy();
  } finally {
    await engine.stop();
  }
});
