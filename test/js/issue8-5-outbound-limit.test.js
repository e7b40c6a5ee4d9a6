'use strict';
// Issue 8, item 5: a hard per-connection outbound cap by default. A handler that
// ignores write()'s false against a peer that does not read is closed with
// ERR_RINGNET_OUTBOUND_LIMIT instead of growing the process; a handler that
// waits for onWritable, or a peer that reads, never meets it.
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { ringnet, LOOPBACK, connect, readBytes, sha256, until } = require('./helpers');

const LIMIT = 1 << 20;

test('issue8-5: a handler that ignores write() against a peer that does not read is closed with ERR_RINGNET_OUTBOUND_LIMIT', async () => {
  let closeErr;
  let maxOut = 0;
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 7);
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.context = setInterval(() => {
          if (!c.isOpen) return;
          for (let i = 0; i < 4; i++) {
            c.write(chunk); // the return value ignored: the bug this cap is for
            written += chunk.length;
          }
          maxOut = Math.max(maxOut, c.outboundBuffered);
        }, 1);
      },
      onClose(c, err) {
        clearInterval(c.context);
        closeErr = err;
      },
    },
    LOOPBACK,
    { outboundLimit: LIMIT, socketSendBuffer: 64 * 1024 },
  );
  try {
    const s = await connect(engine, { highWaterMark: 16 * 1024 });
    s.pause(); // never reads
    await until(() => closeErr !== undefined, 20000, 'the connection to hit its outbound cap');
    assert.strictEqual(closeErr.code, 'ERR_RINGNET_OUTBOUND_LIMIT');
    assert.match(closeErr.message, /outboundLimit \(1048576 bytes\)/);
    assert.ok(written > LIMIT, `${written} bytes written before the close`);
    assert.ok(maxOut <= LIMIT + 4 * chunk.length, `outbound peaked at ${maxOut}, the cap is ${LIMIT}`);
    assert.strictEqual(engine.countConnections(), 0);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('issue8-5: asyncWrite past the cap: its callback and onClose get ERR_RINGNET_OUTBOUND_LIMIT', async () => {
  let closeErr;
  let conn;
  const engine = await ringnet.serve(
    { onOpen: (c) => void (conn = c), onClose: (_c, err) => void (closeErr = err) },
    LOOPBACK,
    { outboundLimit: LIMIT, socketSendBuffer: 64 * 1024 },
  );
  try {
    const s = await connect(engine, { highWaterMark: 16 * 1024 });
    s.pause();
    await until(() => conn !== undefined, 5000, 'onOpen');
    const errs = [];
    for (let i = 0; i < 64; i++) conn.asyncWrite(Buffer.alloc(128 * 1024), (err) => errs.push(err));
    await until(() => errs.length === 64, 10000, 'every asyncWrite callback');
    const codes = new Set(errs.map((e) => e && e.code));
    assert.ok(codes.has('ERR_RINGNET_OUTBOUND_LIMIT'), `callback codes: ${[...codes]}`);
    await until(() => closeErr !== undefined, 5000, 'onClose');
    assert.strictEqual(closeErr.code, 'ERR_RINGNET_OUTBOUND_LIMIT');
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('issue8-5: under the default cap (16 MiB) an 8 MiB reply in one write reaches a reading peer whole', async () => {
  const reply = crypto.randomBytes(8 << 20);
  let closeErr;
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        c.discard(c.inboundBuffered);
        c.write(reply);
      },
      onClose: (_c, err) => void (closeErr = err),
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    const got = readBytes(s, reply.length, 30000);
    s.write('go');
    assert.strictEqual(sha256(await got), sha256(reply));
    s.destroy();
    await until(() => engine.countConnections() === 0, 5000, 'the close');
    assert.strictEqual(closeErr, undefined);
  } finally {
    await engine.stop();
  }
});

test('issue8-5: outboundLimit is validated; Infinity turns the cap off', async () => {
  await assert.rejects(ringnet.serve({}, LOOPBACK, { outboundLimit: 1000 }), {
    code: 'ERR_RINGNET_INVALID_OPTION',
    message: /'outboundLimit' must be an integer in 65536 \(writeBufferCap\)/,
  });
  await assert.rejects(ringnet.serve({}, LOOPBACK, { outboundLimit: '1m' }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  const engine = await ringnet.serve({}, LOOPBACK, { outboundLimit: Infinity });
  await engine.stop();
});
