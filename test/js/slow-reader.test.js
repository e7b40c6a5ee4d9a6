'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes } = require('./helpers');

test('a slow reader gets all 64 MiB once it resumes reading', async () => {
  const TOTAL = 64 << 20;
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  let serverConn;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        serverConn = c;
        for (let sent = 0; sent < TOTAL; sent += chunk.length) c.write(chunk);
      },
    },
    LOOPBACK,
    { outboundLimit: 128 << 20 }, // 64 MiB queued at once: over the default 16 MiB cap (issue 8, item 5)
  );
  try {
    const sock = await connect(engine);
    sock.pause();
    // While the client does not read, the rest waits in the server's outbound buffer.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(serverConn.outboundBuffered > 0, 'expected bytes to be waiting in the outbound buffer');
    sock.resume();
    const got = await readBytes(sock, TOTAL, 60000);
    assert.strictEqual(got.length, TOTAL);
    for (let off = 0; off < TOTAL; off += chunk.length) {
      assert.ok(got.subarray(off, off + chunk.length).equals(chunk), `corrupt data at offset ${off}`);
    }
    sock.destroy();
  } finally {
    await engine.stop();
  }
});
