'use strict';
// examples/hash-server.js's handler and task, run as the test: one pool for the
// whole engine, loop threads submit, pool workers asyncWrite the reply back.
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const path = require('node:path');
const { ringnet, connect, until } = require('./helpers');

const examples = path.join(__dirname, '..', '..', 'examples');
const hash = (p) => crypto.pbkdf2Sync(p, 'ringnet', 20000, 32, 'sha256').toString('hex');

test('one pool for the whole engine: loop threads submit, pool workers asyncWrite the reply back', async () => {
  const pool = new ringnet.WorkerPool(path.join(examples, 'hash-task.js'), { size: 2 });
  const engine = await ringnet.serve(path.join(examples, 'hash-handler.js'), 'tcp://127.0.0.1:0', {
    loops: 2,
    data: { pool: pool.handle },
  });
  try {
    const socks = await Promise.all(Array.from({ length: 4 }, () => connect(engine)));
    await Promise.all(
      socks.map(async (s, i) => {
        const lines = Array.from({ length: 4 }, (_, k) => `conn${i}-line${k}`);
        let got = '';
        s.on('data', (d) => (got += d));
        s.write(lines.map((l) => `${l}\n`).join(''));
        await until(() => got.split('\n').length > lines.length, 30000, `replies on connection ${i}`);
        // Tasks run in parallel: compare as sets.
        assert.deepStrictEqual(got.trim().split('\n').sort(), lines.map((l) => `${l} ${hash(l)}`).sort());
      }),
    );
    // Round-robin put two connections on each loop: both loop threads used the pool.
    assert.deepStrictEqual(engine.stats().map((st) => st.bytesIn > 0), [true, true]);
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
    await pool.release();
  }
});
