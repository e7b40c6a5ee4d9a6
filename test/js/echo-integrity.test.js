'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { ringnet, LOOPBACK, connect, readBytes, sha256, echo } = require('./helpers');

const SIZES = [1, 7, 64, 1000, 4096, 65535, 65536, 65537, 300000, 1 << 20, 4 << 20];

test('echo returns every byte intact for sizes 1 B … 4 MiB', async () => {
  const engine = await ringnet.serve(echo, LOOPBACK);
  try {
    for (const size of SIZES) {
      const sock = await connect(engine);
      const data = crypto.randomBytes(size);
      const reply = readBytes(sock, size);
      sock.write(data);
      const got = await reply;
      assert.strictEqual(got.length, size);
      assert.strictEqual(sha256(got), sha256(data), `checksum mismatch at ${size} bytes`);
      sock.destroy();
    }
  } finally {
    await engine.stop();
  }
});

test('1000 concurrent connections each echo their own data', async () => {
  const engine = await ringnet.serve(echo, LOOPBACK);
  try {
    const N = 1000;
    const socks = await Promise.all(Array.from({ length: N }, () => connect(engine)));
    await Promise.all(
      socks.map(async (s, i) => {
        const data = crypto.randomBytes(1024 + (i % 7) * 1000);
        const reply = readBytes(s, data.length, 60000);
        s.write(data);
        assert.strictEqual(sha256(await reply), sha256(data));
      }),
    );
    assert.strictEqual(engine.countConnections(), N);
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
  }
});
