'use strict';
// Issue 10: deadlines on the loop's native timer wheel. Each kind fires within
// one tick (10 ms) of its deadline and never before; SLACK is what a loaded
// 2-core CI box adds on top (the exact tick bound is test_timer_wheel's).
// Runs on io_uring too: RINGNET_BACKEND=io_uring node --test test/js/timeouts.test.js
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, closed, until } = require('./helpers');

const TICK = 10;
const SLACK = 150;

// elapsed: from a moment at or after the clock started (for the late bound);
// sinceBefore: from one at or before it (for the early bound), if different.
function assertWindow(elapsed, ms, what, sinceBefore = elapsed) {
  assert.ok(sinceBefore >= ms - 1, `${what} fired early: ${sinceBefore} ms of ${ms}`);
  assert.ok(elapsed < ms + TICK + SLACK, `${what} fired late: ${elapsed} ms of ${ms}`);
}

test('idleTimeout option: closes a silent connection, onClose gets ETIMEDOUT', async () => {
  let opened = 0;
  let closedAt = 0;
  let err;
  const engine = await ringnet.serve(
    {
      onOpen: () => void (opened = performance.now()),
      onClose: (c, e) => {
        closedAt = performance.now();
        err = e;
      },
    },
    LOOPBACK,
    { idleTimeout: 200 },
  );
  try {
    // The clock starts at accept, before onOpen runs: the early bound counts from
    // before the connect.
    const before = performance.now();
    const s = await connect(engine);
    s.on('error', () => {});
    await until(() => closedAt !== 0, 3000, 'the idle close');
    assert.strictEqual(err && err.code, 'ETIMEDOUT');
    assertWindow(closedAt - opened, 200, 'idle', closedAt - before);
    await closed(s);
  } finally {
    await engine.stop();
  }
});

test('idle: traffic keeps it open; it fires idle ms after the last byte', async () => {
  let closedAt = 0;
  let err;
  const engine = await ringnet.serve(
    {
      onTraffic: (c) => void c.write(c.next()),
      onClose: (c, e) => {
        closedAt = performance.now();
        err = e;
      },
    },
    LOOPBACK,
    { idleTimeout: 150 },
  );
  try {
    const s = await connect(engine);
    s.on('error', () => {});
    let last = 0;
    let sentAt = 0;
    for (let i = 0; i < 8; i++) {
      const r = readBytes(s, 1);
      sentAt = performance.now();
      s.write('x');
      await r;
      last = performance.now();
      await new Promise((res) => setTimeout(res, 60));
      assert.strictEqual(closedAt, 0, 'closed while busy');
    }
    await until(() => closedAt !== 0, 3000, 'the idle close');
    assert.strictEqual(err.code, 'ETIMEDOUT');
    assertWindow(closedAt - last, 150, 'idle', closedAt - sentAt);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('onTimeout: called with the kind; it may write and close', async () => {
  const kinds = [];
  let openedAt = 0;
  let firedAt = 0;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        openedAt = performance.now();
        c.setIdleTimeout(120);
      },
      onTimeout(c, kind) {
        firedAt = performance.now();
        kinds.push(kind);
        c.write('bye\n');
        return ringnet.Action.Close;
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    const all = readBytes(s, Infinity);
    assert.strictEqual((await all).toString(), 'bye\n');
    assert.deepStrictEqual(kinds, ['idle']);
    assertWindow(firedAt - openedAt, 120, 'idle');
  } finally {
    await engine.stop();
  }
});

test('onTimeout may extend: set again, it fires again; a kind is off until set again', async () => {
  const fired = [];
  let openedAt = 0;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        openedAt = performance.now();
        c.setReadTimeout(100);
      },
      onTimeout(c, kind) {
        fired.push([kind, performance.now()]);
        if (fired.length === 1) c.setReadTimeout(80);
        // the second time: nothing; the connection stays open, the kind is off
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    await until(() => fired.length === 2, 3000, 'two timeouts');
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(fired.length, 2, 'fired again without being set');
    assert.deepStrictEqual(fired.map((f) => f[0]), ['read', 'read']);
    assertWindow(fired[0][1] - openedAt, 100, 'read #1');
    assertWindow(fired[1][1] - fired[0][1], 80, 'read #2');
    assert.strictEqual(engine.countConnections(), 1);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('read timeout: fires while the server keeps writing (not idle)', async () => {
  let conn;
  let openedAt = 0;
  let firedAt = 0;
  let kind;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        conn = c;
        openedAt = performance.now();
        c.setReadTimeout(200);
        c.setIdleTimeout(100); // would fire first if writes did not count as activity
      },
      onTimeout(c, k) {
        if (k === 'idle') throw new Error('idle fired although the server was writing');
        kind = k;
        firedAt = performance.now();
        return ringnet.Action.Close;
      },
    },
    LOOPBACK,
  );
  const timer = setInterval(() => conn && conn.isOpen && conn.write('tick\n'), 20);
  try {
    const s = await connect(engine);
    s.resume();
    await until(() => firedAt !== 0, 3000, 'the read timeout');
    assert.strictEqual(kind, 'read');
    assertWindow(firedAt - openedAt, 200, 'read');
    await closed(s);
  } finally {
    clearInterval(timer);
    await engine.stop();
  }
});

test('write timeout: a peer that stops reading is closed with ETIMEDOUT', async () => {
  let err;
  let queuedAt = 0;
  let closedAt = 0;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.setWriteTimeout(200);
        queuedAt = performance.now();
        c.write(Buffer.alloc(32 << 20, 1)); // far more than the socket buffers hold
      },
      onClose(c, e) {
        err = e;
        closedAt = performance.now();
      },
    },
    LOOPBACK,
    { outboundLimit: Infinity }, // the 32 MiB queued is past the default 16 MiB cap (issue 8)
  );
  try {
    const s = await connect(engine);
    s.pause();
    s.on('error', () => {});
    await until(() => closedAt !== 0, 3000, 'the write timeout');
    assert.strictEqual(err && err.code, 'ETIMEDOUT');
    assertWindow(closedAt - queuedAt, 200, 'write');
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('write timeout does not fire while the queue drains in time', async () => {
  let err = 'open';
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.setWriteTimeout(300);
        c.write(Buffer.alloc(8 << 20, 2));
        c.close();
      },
      onClose: (c, e) => void (err = e),
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    const got = await readBytes(s, Infinity);
    assert.strictEqual(got.length, 8 << 20);
    await until(() => err !== 'open', 3000, 'onClose');
    assert.strictEqual(err, undefined);
  } finally {
    await engine.stop();
  }
});

test('bad timeouts are rejected with a code', async () => {
  let conn;
  const engine = await ringnet.serve({ onOpen: (c) => void (conn = c) }, LOOPBACK);
  try {
    const s = await connect(engine);
    await until(() => conn !== undefined, 3000, 'onOpen');
    for (const bad of [-1, 1.5, NaN, '10', 2 ** 31]) {
      assert.throws(() => conn.setIdleTimeout(bad), { code: 'ERR_RINGNET_INVALID_ARG' });
    }
    conn.setIdleTimeout(0); // off: fine
    s.destroy();
    await assert.rejects(ringnet.serve({}, LOOPBACK, { idleTimeout: -5 }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  } finally {
    await engine.stop();
  }
});

test('idleTimeout bounds a TLS handshake that never finishes (the handler never sees it, even with onTimeout)', async () => {
  const { makeCerts } = require('./tls-helpers');
  const net = require('node:net');
  const certs = makeCerts(); // the openssl CLI, as test/js/tls-interop.test.js
  const seen = [];
  const engine = await ringnet.serve(
    { onOpen: () => void seen.push('open'), onTimeout: () => void seen.push('timeout') },
    'tls://127.0.0.1:0',
    { idleTimeout: 200, tls: { cert: certs.server.cert, key: certs.server.key } },
  );
  try {
    const t0 = performance.now();
    const s = net.connect(engine.address.port, '127.0.0.1'); // plain TCP: no ClientHello ever comes
    s.on('error', () => {});
    const closedInTime = await new Promise((r) => {
      const t = setTimeout(() => r(false), 3000);
      s.once('close', () => {
        clearTimeout(t);
        r(true);
      });
    });
    s.destroy();
    assert.ok(closedInTime, 'the unfinished handshake was not closed by idleTimeout');
    const ms = performance.now() - t0;
    assert.ok(ms >= 199, `closed early: ${ms} ms`);
    assert.ok(ms < 200 + TICK + SLACK + 200, `closed late: ${ms} ms`);
    assert.deepStrictEqual(seen, []);
    assert.strictEqual(engine.countConnections(), 0);
  } finally {
    await engine.stop();
  }
});
