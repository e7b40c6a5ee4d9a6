'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes } = require('./helpers');

test("onOpen's out bytes arrive before anything else", async () => {
  const engine = await ringnet.serve(
    {
      onOpen: () => ({ out: 'HELLO\n' }),
      onTraffic(c) {
        c.write(c.next());
      },
    },
    LOOPBACK,
  );
  try {
    const sock = await connect(engine);
    sock.write('ping');
    const got = await readBytes(sock, 10);
    assert.strictEqual(got.toString(), 'HELLO\nping');
    sock.destroy();
  } finally {
    await engine.stop();
  }
});

test('onOpen may return an Action directly, or out + action together', async () => {
  const engine = await ringnet.serve({ onOpen: () => ({ out: Buffer.from('bye'), action: ringnet.Action.Close }) }, LOOPBACK);
  try {
    const sock = await connect(engine);
    const got = await readBytes(sock, Infinity);
    assert.strictEqual(got.toString(), 'bye');
  } finally {
    await engine.stop();
  }
});
