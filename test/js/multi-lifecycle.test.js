'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');
const { ringnet, connect, readBytes, until, echo } = require('./helpers');
const { fixture, reports, threadCount, fdCount } = require('./multi-helpers');

async function settled() {
  // libuv's threadpool starts on first use (module loading in a worker uses it):
  // start it before counting, so the count compares like with like.
  await fs.promises.readFile(__filename);
  // Worker threads leave /proc/self/task a moment after 'exit'.
  await new Promise((r) => setTimeout(r, 100));
}

test('handler module errors reject serve() and leave no thread or fd behind', async () => {
  await settled();
  const threads = threadCount();
  const fds = fdCount();
  const cases = [
    [fixture('throws-on-load.js'), /fails to load/],
    [fixture('no-handler.js'), /exports no handler/],
    [fixture('does-not-exist.js'), /cannot load handler module/],
  ];
  for (const [mod, re] of cases) {
    await assert.rejects(ringnet.serve(mod, 'tcp://127.0.0.1:0', { loops: 2 }), (e) => {
      assert.strictEqual(e.code, 'ERR_RINGNET_INVALID_HANDLER');
      assert.match(e.message, re);
      return true;
    });
  }
  // An object handler cannot cross threads: it must be a module.
  await assert.rejects(ringnet.serve(echo, 'tcp://127.0.0.1:0', { loops: 2 }), { code: 'ERR_RINGNET_INVALID_HANDLER' });
  await settled();
  assert.strictEqual(threadCount(), threads);
  assert.strictEqual(fdCount(), fds);
});

test('stop() with data in flight: every byte written before stop arrives; no threads or fds left', async () => {
  await settled();
  const threads = threadCount();
  const fds = fdCount();
  const r = reports();
  const engine = await ringnet.serve(pathToFileURL(fixture('big-reply.js')), 'tcp://127.0.0.1:0', { loops: 2 });
  assert.strictEqual(threadCount(), threads + 3, '2 loop threads + the main reactor');
  const socks = await Promise.all(Array.from({ length: 6 }, () => connect(engine)));
  const replies = socks.map((s) => readBytes(s, Infinity, 30000));
  // Slow readers: stop() must wait for them to drain, not cut them off.
  for (const s of socks) s.pause();
  for (const s of socks) s.write('go');
  // Every 'go' read (12 bytes in) before stop(): bytes still in a socket when the
  // drain starts are not read (a stopping engine answers nothing new).
  await until(() => engine.stats().reduce((n, s) => n + s.bytesIn, 0) >= 2 * socks.length, 5000, 'every request read');
  await until(() => engine.stats().reduce((n, s) => n + s.bytesOut, 0) > 0, 5000, 'server to start writing');
  const stopping = engine.stop({ timeout: 20000 });
  await new Promise((res) => setTimeout(res, 100));
  for (const s of socks) s.resume();
  await stopping;
  for (const got of await Promise.all(replies)) {
    assert.strictEqual(got.length, 4 << 20);
    for (let i = 0; i < got.length; i += 4099) assert.strictEqual(got[i], i % 253);
  }
  r.close();
  await settled();
  assert.strictEqual(threadCount(), threads, 'threads joined');
  assert.strictEqual(fdCount(), fds, 'fds closed');
  await assert.rejects(connect(engine), { code: 'ECONNREFUSED' });
});

test('Action.Shutdown from a loop thread stops the whole engine', async () => {
  const engine = await ringnet.serve(fixture('shutdown-on-traffic.js'), 'tcp://127.0.0.1:0', { loops: 2 });
  const s = await connect(engine);
  const ended = readBytes(s, Infinity);
  s.write('x');
  await until(() => engine.stopped, 5000, 'engine to stop');
  await engine.stop();
  await ended;
});

test('onBoot and onShutdown run once per loop', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 3 });
  await until(() => r.of('boot').length === 3, 10000, 'three boots');
  await engine.stop();
  await until(() => r.of('shutdown').length === 3, 5000, 'three shutdowns');
  r.close();
});

test('pin: loop i is pinned to CPU i mod the CPUs the process may use', async () => {
  const allowed = ringnet.native.allowedCpus();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 3, pin: true });
  try {
    for (const l of engine.loops) {
      assert.strictEqual(l.cpu, allowed[l.index % allowed.length]);
      const status = fs.readFileSync(`/proc/self/task/${l.threadId}/status`, 'utf8');
      const list = /Cpus_allowed_list:\s*(\S+)/.exec(status)[1];
      assert.strictEqual(list, String(l.cpu), `loop ${l.index} affinity`);
    }
  } finally {
    await engine.stop();
  }
});

test('multicore: one loop per available CPU', async () => {
  const engine = await ringnet.serve(fixture('echo.mjs'), 'tcp://127.0.0.1:0', { multicore: true });
  try {
    assert.strictEqual(engine.loops.length, require('node:os').availableParallelism());
    const s = await connect(engine);
    s.write('mc');
    assert.strictEqual((await readBytes(s, 2)).toString(), 'mc');
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('EADDRINUSE with several loops (main reactor or reusePort) rejects and leaves nothing behind', async () => {
  await settled();
  const threads = threadCount();
  const fds = fdCount();
  const net = require('node:net');
  const taken = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  const addr = `tcp://127.0.0.1:${taken.address().port}`;
  try {
    for (const reusePort of [false, true]) {
      await assert.rejects(ringnet.serve(fixture('echo.mjs'), addr, { loops: 2, reusePort }), { code: 'EADDRINUSE' });
    }
  } finally {
    await new Promise((r) => taken.close(r));
  }
  await settled();
  assert.strictEqual(threadCount(), threads);
  assert.strictEqual(fdCount(), fds);
});
