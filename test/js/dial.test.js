'use strict';
// Issue 10: engine.dial and createClient. Success, refused, timed out,
// unresolvable and malformed; a proxy that pipes each accepted connection to a
// dialed one on the same loop, bytes checksummed.
// io_uring too: RINGNET_BACKEND=io_uring node --test test/js/dial.test.js
const { test } = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { ringnet, LOOPBACK, connect, readBytes, sha256, echo, until, fdCount } = require('./helpers');

// A port nothing listens on: bound, then closed (another process could take it in
// between; the refused test only needs it to refuse once).
async function deadPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test('createClient + dial: resolves to the Conn after onOpen (dialed, context), then echoes', async () => {
  const server = await ringnet.serve(echo, LOOPBACK);
  const seen = [];
  const got = [];
  const client = await ringnet.createClient({
    onOpen: (c) => void seen.push({ dialed: c.dialed, context: c.context }),
    onTraffic: (c) => void got.push(Buffer.from(c.next())),
  });
  try {
    const ctx = { name: 'upstream' };
    const c = await client.dial(server.addr, { timeout: 2000, context: ctx });
    assert.strictEqual(c.dialed, true);
    assert.strictEqual(c.context, ctx);
    assert.deepStrictEqual(seen, [{ dialed: true, context: ctx }]);
    assert.strictEqual(c.remoteAddr.port, server.address.port);
    c.write('ping over a dialed connection');
    await until(() => Buffer.concat(got).length >= 29, 5000, 'echo');
    assert.strictEqual(Buffer.concat(got).toString(), 'ping over a dialed connection');
    assert.strictEqual(client.countConnections(), 1);
    // Host names resolve off the loop: localhost works.
    const c2 = await client.dial(`tcp://localhost:${server.address.port}`);
    assert.strictEqual(c2.dialed, true);
  } finally {
    await client.stop();
    await server.stop();
  }
});

test('dial: refused port rejects ECONNREFUSED; the fd is not leaked', async () => {
  const port = await deadPort();
  const client = await ringnet.createClient({});
  try {
    const before = fdCount();
    for (let i = 0; i < 5; i++) {
      await assert.rejects(client.dial(`tcp://127.0.0.1:${port}`, { timeout: 2000 }), (e) => {
        assert.strictEqual(e.code, 'ECONNREFUSED');
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        return true;
      });
    }
    assert.strictEqual(fdCount(), before);
    assert.strictEqual(client.countConnections(), 0);
  } finally {
    await client.stop();
  }
});

test('dial: malformed and unresolvable addresses reject ERR_RINGNET_INVALID_ADDR', async () => {
  const client = await ringnet.createClient({});
  try {
    for (const bad of ['tcp://127.0.0.1', 'udp://127.0.0.1:1', 'tcp://127.0.0.1:0', 'tcp://:80', 'tcp4://[::1]:80', 42]) {
      await assert.rejects(client.dial(bad), (e) => e.code === 'ERR_RINGNET_INVALID_ADDR', String(bad));
    }
    // .invalid never resolves (RFC 6761); the lookup runs off the loop.
    await assert.rejects(client.dial('tcp://no-such-host.invalid:80', { timeout: 5000 }), (e) => {
      assert.strictEqual(e.code, 'ERR_RINGNET_INVALID_ADDR');
      assert.match(e.message, /cannot resolve host 'no-such-host\.invalid'/);
      return true;
    });
    await assert.rejects(client.dial('tcp://127.0.0.1:1', { timeout: -1 }), (e) => e.code === 'ERR_RINGNET_INVALID_OPTION');
    await assert.rejects(client.dial('tcp://127.0.0.1:1', { nope: 1 }), (e) => e.code === 'ERR_RINGNET_INVALID_OPTION');
  } finally {
    await client.stop();
  }
});

// A listener whose accept queue is full drops SYNs (Linux; Wine's sockets are
// Linux's), so a connect to it stays in progress: fillers take the queue of a
// listener that never accepts. That listener is a ringnet engine with one loop (it
// runs on the main thread) in a child process whose main thread is then blocked
// (Atomics.wait, at most 60 s). Not a node:net server in a SIGSTOPped child: Windows
// has no SIGSTOP (node.exe throws ERR_UNKNOWN_SIGNAL), and libuv's listener on
// Windows keeps AcceptEx calls pending, which accept with the loop blocked. The
// child's backend is epoll/AFD (readiness), never io_uring: a multishot accept sits
// in the ring and the kernel completes it with the loop blocked (RINGNET_BACKEND=io_uring
// runs of this file would otherwise inherit it).
async function blackhole() {
  const child = spawn(process.execPath, ['-e', `
    require(process.argv[1]).serve({}, 'tcp://127.0.0.1:0', { loops: 1, backlog: 1, backend: process.platform === 'linux' ? 'epoll' : 'auto' }).then((e) => {
      process.stdout.write(e.addr.split(':').pop() + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000));
    });
  `, path.join(__dirname, '..', '..', 'dist')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  const fillers = [];
  for (let i = 0; i < 8; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const ok = await new Promise((r) => {
      const t = setTimeout(() => r(false), 300);
      s.once('connect', () => {
        clearTimeout(t);
        r(true);
      });
    });
    if (!ok) break; // the queue is full: SYNs are dropped now
  }
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

test('dial: a connect that does not finish rejects ETIMEDOUT within a tick of its timeout', async () => {
  const hole = await blackhole();
  const client = await ringnet.createClient({});
  try {
    const t0 = performance.now();
    await assert.rejects(client.dial(`tcp://127.0.0.1:${hole.port}`, { timeout: 300 }), (e) => {
      assert.strictEqual(e.code, 'ETIMEDOUT');
      return true;
    });
    const ms = performance.now() - t0;
    assert.ok(ms >= 299, `timed out early: ${ms} ms`);
    assert.ok(ms < 300 + 10 + 400, `timed out late: ${ms} ms`);
    assert.strictEqual(client.countConnections(), 0);
    // stop() while a dial is in progress: it is cancelled, not left pending.
    const p = client.dial(`tcp://127.0.0.1:${hole.port}`);
    await client.stop();
    await assert.rejects(p, (e) => e.code === 'ECANCELED');
    await assert.rejects(client.dial(`tcp://127.0.0.1:${hole.port}`), (e) => e.code === 'ERR_RINGNET_STOPPED');
  } finally {
    await client.stop();
    hole.close();
  }
});

test('dial from a handler: a proxy pipes each accepted connection to a dialed one on its loop, bytes intact', async () => {
  const upstream = await ringnet.serve(echo, LOOPBACK);
  let engine;
  const loops = [];
  const proxy = {
    onBoot: (e) => void (engine = e),
    onOpen(c) {
      if (c.dialed) {
        loops.push([c.context.peer.loopIndex, c.loopIndex]);
        return;
      }
      const st = { up: null, queued: [], down: false };
      c.context = st;
      engine.dial(upstream.addr, { timeout: 5000, context: { peer: c } }).then(
        (up) => {
          st.up = up;
          for (const b of st.queued) up.write(b);
          st.queued = [];
          if (st.down) up.close();
        },
        () => c.close(),
      );
    },
    onTraffic(c) {
      if (c.dialed) {
        // upstream → client: a view of this batch's read, sent without a copy
        c.context.peer.write(c.next());
        return;
      }
      const st = c.context;
      if (st.up) st.up.write(c.next());
      else st.queued.push(Buffer.from(c.next()));
    },
    onClose(c) {
      if (c.dialed) c.context.peer.close();
      else if (c.context.up) c.context.up.close();
      else c.context.down = true;
    },
  };
  const front = await ringnet.serve(proxy, LOOPBACK);
  try {
    const N = 4;
    const size = 1 << 20;
    const runs = Array.from({ length: N }, async () => {
      const data = crypto.randomBytes(size);
      const s = await connect(front);
      const read = readBytes(s, size, 30000);
      for (let off = 0; off < size; off += 64 * 1024) s.write(data.subarray(off, off + 64 * 1024));
      const back = await read;
      s.destroy();
      assert.strictEqual(sha256(back), sha256(data));
    });
    await Promise.all(runs);
    assert.strictEqual(loops.length, N);
    for (const [a, b] of loops) assert.strictEqual(a, b);
    await until(() => front.countConnections() === 0, 5000, 'proxy connections to close');
  } finally {
    await front.stop();
    await upstream.stop();
  }
});
