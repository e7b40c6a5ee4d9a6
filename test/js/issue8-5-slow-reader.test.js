'use strict';
// Issue 8, item 5: the echo handler (README, `ringnet echo`, echoHandler) respects
// write()'s return value, so a client that sends without reading keeps the
// server's buffers bounded: inbound at inboundLimit, outbound under
// writeBufferCap + one inbound buffer — and every byte still comes back.
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { ringnet, LOOPBACK, connect, readBytes, sha256, until } = require('./helpers');
const { echoHandler } = require('../../dist/cli');

test('issue8-5: a slow reader against echoHandler keeps server buffers bounded, every byte echoed', async () => {
  const LIMIT = 1 << 20;
  const CAP = 64 * 1024;
  let conn;
  let maxIn = 0;
  let maxOut = 0;
  const engine = await ringnet.serve(
    {
      onOpen: (c) => void (conn = c),
      onTraffic: (c) => echoHandler.onTraffic(c),
      onWritable: (c) => echoHandler.onWritable(c),
    },
    LOOPBACK,
    { inboundLimit: LIMIT, writeBufferCap: CAP },
  );
  const sample = setInterval(() => {
    if (conn && conn.isOpen) {
      maxIn = Math.max(maxIn, conn.inboundBuffered);
      maxOut = Math.max(maxOut, conn.outboundBuffered);
    }
  }, 1);
  try {
    const s = await connect(engine);
    const data = crypto.randomBytes(48 << 20);
    s.pause();
    s.write(data);
    await until(() => engine.stats()[0].pauses > 0, 20000, 'reading to pause (backpressure reached the socket)');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(maxIn <= LIMIT, `inbound ${maxIn} over inboundLimit`);
    assert.ok(maxOut <= CAP + LIMIT, `outbound ${maxOut} over writeBufferCap + inboundLimit`);
    const got = readBytes(s, data.length, 60000);
    s.resume();
    assert.strictEqual(sha256(await got), sha256(data));
    assert.ok(maxOut <= CAP + LIMIT, `outbound ${maxOut} over writeBufferCap + inboundLimit`);
    s.destroy();
  } finally {
    clearInterval(sample);
    await engine.stop();
  }
});
