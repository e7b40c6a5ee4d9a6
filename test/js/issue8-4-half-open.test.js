'use strict';
// Issue 8, item 4: the peer's FIN. allowHalfOpen off (default): onEnd is called,
// what it writes and what is queued is sent, then the connection closes. On: the
// connection stays writable until the handler closes it. The README's hash-server
// example answers `printf 'secret\n' | socat -` / `nc -N` clients.
const { test } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawn } = require('node:child_process');
const net = require('node:net');
const { ringnet, LOOPBACK, connect, readBytes, until } = require('./helpers');

test('issue8-4: default: a reply written in onEnd is sent, then the server closes', async () => {
  let got = '';
  let closeErr = 'not called';
  const engine = await ringnet.serve(
    {
      onTraffic: (c) => void (got += c.next().toString()),
      onEnd(c) {
        assert.strictEqual(c.readEnded, true);
        c.write(`you sent ${got.length} bytes\n`);
      },
      onClose: (c, err) => void (closeErr = err),
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine, { allowHalfOpen: true });
    const all = readBytes(s, Infinity);
    s.end('secret\n');
    assert.strictEqual((await all).toString(), 'you sent 7 bytes\n');
    await until(() => closeErr !== 'not called', 5000, 'onClose');
    assert.strictEqual(closeErr, undefined);
  } finally {
    await engine.stop();
  }
});

test('issue8-4: default: a write after the FIN batch throws ERR_RINGNET_CONN_CLOSED, as node:net after end', async () => {
  let conn;
  const engine = await ringnet.serve({ onOpen: (c) => void (conn = c) }, LOOPBACK);
  try {
    const s = await connect(engine, { allowHalfOpen: true });
    s.end();
    await until(() => conn && conn.readEnded, 5000, 'onEnd');
    await until(() => engine.countConnections() === 0, 5000, 'the close');
    assert.throws(() => conn.write('late'), { code: 'ERR_RINGNET_CONN_CLOSED' });
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('issue8-4: allowHalfOpen: a reply 50 ms after the FIN arrives, then close() ends it', async () => {
  const engine = await ringnet.serve(
    {
      onTraffic: (c) => void c.discard(c.inboundBuffered),
      onEnd(c) {
        setTimeout(() => {
          c.write('late reply\n');
          c.close();
        }, 50);
      },
    },
    LOOPBACK,
    { allowHalfOpen: true },
  );
  try {
    const s = await connect(engine, { allowHalfOpen: true });
    const all = readBytes(s, Infinity);
    s.end('question\n');
    assert.strictEqual((await all).toString(), 'late reply\n');
    await until(() => engine.countConnections() === 0, 5000, 'the close');
  } finally {
    await engine.stop();
  }
});

test('issue8-4: allowHalfOpen: shutdownWrite after the peer FIN closes the connection', async () => {
  const engine = await ringnet.serve(
    {
      onEnd(c) {
        c.write('bye\n');
        c.shutdownWrite();
      },
    },
    LOOPBACK,
    { allowHalfOpen: true },
  );
  try {
    const s = await connect(engine, { allowHalfOpen: true });
    const all = readBytes(s, Infinity);
    s.end();
    assert.strictEqual((await all).toString(), 'bye\n');
    await until(() => engine.countConnections() === 0, 5000, 'both FINs to close it');
  } finally {
    await engine.stop();
  }
});

test('issue8-4: examples/hash-server.js answers a client that half-closes (nc -N, socat)', async () => {
  const server = spawn(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'hash-server.js'), '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let out = '';
    server.stdout.on('data', (d) => (out += d));
    await until(() => /on tcp:\/\/127\.0\.0\.1:(\d+)/.test(out), 20000, 'the hash server to listen');
    const port = Number(/on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out)[1]);
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((r, j) => s.once('connect', r).once('error', j));
    const all = readBytes(s, Infinity, 20000);
    s.end('secret\nother\n'); // like printf 'secret\nother\n' | socat - TCP:127.0.0.1:9100
    const lines = (await all).toString().trim().split('\n').sort();
    assert.strictEqual(lines.length, 2);
    assert.match(lines[0], /^other [0-9a-f]{64}$/);
    assert.match(lines[1], /^secret [0-9a-f]{64}$/);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
  }
});
