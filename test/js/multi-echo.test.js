'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { ringnet, connect, readBytes, sha256 } = require('./helpers');
const { fixture } = require('./multi-helpers');

test('2 loops × 500 connections echo with checksums (ESM class handler)', async () => {
  const engine = await ringnet.serve(fixture('echo.mjs'), 'tcp://127.0.0.1:0', { loops: 2, pin: true });
  try {
    const N = 1000;
    const socks = await Promise.all(Array.from({ length: N }, () => connect(engine)));
    await Promise.all(
      socks.map(async (s, i) => {
        const data = crypto.randomBytes(512 + (i % 13) * 700);
        const reply = readBytes(s, data.length, 60000);
        s.write(data);
        assert.strictEqual(sha256(await reply), sha256(data));
      }),
    );
    const per = engine.stats().map((s) => s.connections);
    assert.deepStrictEqual(per, [500, 500]);
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
  }
});
