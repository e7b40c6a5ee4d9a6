'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { ringnet, connect } = require('./helpers');
const { fixture } = require('./multi-helpers');

test('one pool for the whole engine: loop threads submit, pool workers asyncWrite the reply back', async () => {
  const pool = new ringnet.WorkerPool(fixture('pool-reply-task.js'), { size: 2 });
  const engine = await ringnet.serve(fixture('pool-handler.js'), 'tcp://127.0.0.1:0', { loops: 2, data: { pool: pool.handle } });
  try {
    const socks = await Promise.all(Array.from({ length: 4 }, () => connect(engine)));
    const results = await Promise.all(
      socks.map(async (s, i) => {
        const lines = Array.from({ length: 5 }, (_, k) => `conn${i}-line${k}`);
        const expected = lines.map((l) => `${l} ${crypto.pbkdf2Sync(l, 'salt', 1000, 16, 'sha256').toString('hex')}`);
        let got = '';
        s.on('data', (d) => (got += d));
        s.write(lines.map((l) => `${l}\n`).join(''));
        const deadline = Date.now() + 20000;
        while (got.split('\n').length <= lines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        const replies = got.trim().split('\n');
        // Tasks run in parallel: compare as sets; every reply names the loop that submitted it.
        assert.deepStrictEqual(replies.map((r) => r.split(' ').slice(0, 2).join(' ')).sort(), expected.sort());
        return new Set(replies.map((r) => r.split(' ')[2]));
      }),
    );
    const loops = new Set(results.flatMap((set) => [...set]));
    assert.deepStrictEqual([...loops].sort(), ['0', '1'], 'both loop threads used the pool');
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
    await pool.release();
  }
});
