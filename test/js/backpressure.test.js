'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, until } = require('./helpers');

test('write() returns false over writeBufferCap, and onWritable follows once it drains', async () => {
  const chunk = Buffer.alloc(256 * 1024, 9);
  const seen = { falseAt: -1, writable: 0, sent: 0 };
  const TOTAL = 40;
  const pump = (c) => {
    // Write until told to stop, resume in onWritable: bounded memory, every byte sent.
    while (seen.sent < TOTAL) {
      seen.sent++;
      if (!c.write(chunk)) {
        if (seen.falseAt < 0) seen.falseAt = seen.sent;
        return;
      }
    }
  };
  const engine = await ringnet.serve(
    {
      onOpen: pump,
      onWritable(c) {
        seen.writable++;
        assert.ok(c.outboundBuffered < 64 * 1024 / 2 + 1);
        pump(c);
      },
    },
    LOOPBACK,
    { writeBufferCap: 64 * 1024 },
  );
  try {
    const s = await connect(engine);
    const got = await readBytes(s, TOTAL * chunk.length, 30000);
    assert.strictEqual(got.length, TOTAL * chunk.length);
    assert.strictEqual(seen.falseAt, 1, 'a 256 KiB write is over a 64 KiB cap at once');
    assert.ok(seen.writable >= TOTAL - 1, `onWritable after each refusal (saw ${seen.writable})`);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('inbound backpressure: reading pauses at inboundLimit and resumes when the handler consumes', async () => {
  let conn;
  const engine = await ringnet.serve({ onOpen: (c) => void (conn = c), onTraffic: () => undefined }, LOOPBACK, {
    readBufferCap: 4096,
    inboundLimit: 64 * 1024,
  });
  try {
    const s = await connect(engine);
    const data = Buffer.alloc(4 << 20, 5);
    s.write(data);
    await until(() => conn && engine.stats()[0].pauses > 0, 10000, 'reading to pause');
    assert.ok(conn.inboundBuffered <= 64 * 1024, `inbound ${conn.inboundBuffered} over its limit`);
    // Consume outside a callback: reading resumes; keep consuming until all arrived.
    let total = 0;
    await until(() => {
      total += conn.discard(conn.inboundBuffered);
      return total === data.length;
    }, 20000, 'all 4 MiB through a 64 KiB inbound buffer');
    s.destroy();
  } finally {
    await engine.stop();
  }
});
