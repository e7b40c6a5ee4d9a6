'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, until } = require('./helpers');

test('a closed Conn throws ERR_RINGNET_CONN_CLOSED and never touches the connection now in its slot', async () => {
  const conns = [];
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        conns.push(c);
      },
      onTraffic(c) {
        c.write(c.next());
      },
    },
    LOOPBACK,
  );
  try {
    const a = await connect(engine);
    await until(() => conns.length === 1, 5000, 'first open');
    a.destroy();
    await until(() => !conns[0].isOpen && engine.countConnections() === 0, 5000, 'first close');
    // The next connection reuses the slot.
    const b = await connect(engine);
    await until(() => conns.length === 2, 5000, 'second open');
    const [stale, fresh] = conns;
    assert.strictEqual(stale.slot, fresh.slot, 'slot should be reused');
    for (const op of [() => stale.peek(), () => stale.next(), () => stale.discard(1), () => stale.write('x'), () => stale.flush(), () => stale.read(Buffer.alloc(1)), () => stale.setNoDelay()]) {
      assert.throws(op, { code: 'ERR_RINGNET_CONN_CLOSED' });
    }
    assert.strictEqual(stale.inboundBuffered, 0);
    assert.strictEqual(stale.remoteAddr, null);
    stale.close(); // a no-op, must not close the fresh connection
    b.write('alive');
    assert.strictEqual((await readBytes(b, 5)).toString(), 'alive');
    assert.strictEqual(engine.countConnections(), 1);
    b.destroy();
  } finally {
    await engine.stop();
  }
});

test('write after close() throws; close() twice is fine', async () => {
  let result;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.close();
        c.close();
        try {
          c.write('x');
          result = 'no throw';
        } catch (e) {
          result = e.code;
        }
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    await readBytes(s, Infinity);
    assert.strictEqual(result, 'ERR_RINGNET_CONN_CLOSED');
  } finally {
    await engine.stop();
  }
});

test('conn addresses, fd and context', async () => {
  let info;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.context = { n: 1 };
        info = { local: c.localAddr, remote: c.remoteAddr, fd: c.fd, loop: c.loopIndex, ctx: c.context };
        c.setNoDelay(false);
        c.setKeepAlive(true, 30);
        c.setReadBuffer(65536);
        c.setWriteBuffer(65536);
        c.write('k');
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    await readBytes(s, 1);
    assert.strictEqual(info.local.port, engine.address.port);
    assert.strictEqual(info.remote.port, s.localPort);
    assert.strictEqual(info.remote.address, '127.0.0.1');
    assert.ok(info.fd > 2);
    assert.strictEqual(info.loop, 0);
    assert.deepStrictEqual(info.ctx, { n: 1 });
    s.destroy();
  } finally {
    await engine.stop();
  }
});
