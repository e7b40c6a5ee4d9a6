'use strict';
// Issue 9: choosing the I/O backend, engine.backend, and the fallback to epoll
// when io_uring is refused (forced here with RINGNET_IO_URING_DISABLE=1 in a child
// process; the native test test_uring refuses it with a seccomp filter instead).
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ringnet, LOOPBACK, connect, readBytes, sha256, echo } = require('./helpers');
const { fixture } = require('./multi-helpers');

// Whether this machine lets this process use io_uring (a container's seccomp
// profile may not): ask a child, so this process's environment stays untouched.
function uringHere() {
  const script = `require(${JSON.stringify(path.join(__dirname, '../../dist'))}).serve({}, 'tcp://127.0.0.1:0', { backend: 'io_uring' })
    .then((e) => { process.stdout.write(e.backend); return e.stop(); }, (e) => process.stdout.write(e.code))`;
  return execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 }) === 'io_uring';
}
const HAVE_URING = uringHere();

async function echoChecked(engine, n, size) {
  const socks = await Promise.all(Array.from({ length: n }, () => connect(engine)));
  await Promise.all(
    socks.map(async (s, i) => {
      const data = crypto.randomBytes(size + i);
      const reply = readBytes(s, data.length, 30000);
      s.write(data);
      assert.strictEqual(sha256(await reply), sha256(data));
    }),
  );
  for (const s of socks) s.destroy();
}

test("backend: 'epoll' runs on epoll whatever RINGNET_BACKEND says", async () => {
  const engine = await ringnet.serve(echo, LOOPBACK, { backend: 'epoll' });
  try {
    assert.strictEqual(engine.backend, 'epoll');
    assert.strictEqual(engine.backendFallback, undefined);
    await echoChecked(engine, 4, 1000);
  } finally {
    await engine.stop();
  }
});

test("backend: 'io_uring' echoes large and small messages intact", { skip: !HAVE_URING && 'io_uring refused here' }, async () => {
  const engine = await ringnet.serve(echo, LOOPBACK, { backend: 'io_uring' });
  try {
    assert.strictEqual(engine.backend, 'io_uring');
    assert.strictEqual(engine.loops[0].backend, 'io_uring');
    await echoChecked(engine, 50, 64);
    await echoChecked(engine, 8, 3 << 20);  // several provided buffers and backlogged sends each
    const st = engine.stats()[0];
    assert.ok(st.reads > 0 && st.bytesIn === st.bytesOut, JSON.stringify(st));
  } finally {
    await engine.stop();
  }
});

test('2 loops on io_uring: each loop thread reports its backend', { skip: !HAVE_URING && 'io_uring refused here' }, async () => {
  const engine = await ringnet.serve(fixture('echo.mjs'), LOOPBACK, { loops: 2, backend: 'io_uring' });
  try {
    assert.deepStrictEqual(engine.loops.map((l) => l.backend), ['io_uring', 'io_uring']);
    await echoChecked(engine, 20, 5000);
  } finally {
    await engine.stop();
  }
});

test('a bad backend name is an invalid option', async () => {
  await assert.rejects(ringnet.serve(echo, LOOPBACK, { backend: 'kqueue-ish' }), { code: 'ERR_RINGNET_INVALID_OPTION', message: /backend/ });
});

// The child runs with io_uring forced unavailable and reports what it saw.
function runRefused(env, code) {
  const script = `const r = require(${JSON.stringify(path.join(__dirname, '../../dist'))});
    const net = require('node:net');
    (async () => {
      const out = {};
      ${code}
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { process.stdout.write(JSON.stringify({ crash: String(e.stack) })); });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 20000,
    env: { ...process.env, RINGNET_IO_URING_DISABLE: '1', ...env },
  });
  return JSON.parse(out);
}

test('RINGNET_BACKEND=io_uring with io_uring refused falls back to epoll and says why', () => {
  const out = runRefused(
    { RINGNET_BACKEND: 'io_uring' },
    `const e = await r.serve({ onTraffic(c) { c.write(c.next()); } }, 'tcp://127.0.0.1:0');
      out.backend = e.backend;
      out.fallback = e.backendFallback;
      out.echo = await new Promise((ok, fail) => {
        const s = net.connect(e.address.port, '127.0.0.1', () => s.write('ping'));
        s.once('data', (d) => { ok(d.toString()); s.destroy(); });
        s.once('error', fail);
      });
      await e.stop();`,
  );
  assert.strictEqual(out.crash, undefined, out.crash);
  assert.strictEqual(out.backend, 'epoll');
  assert.match(out.fallback, /RINGNET_IO_URING_DISABLE|built without liburing/);
  assert.strictEqual(out.echo, 'ping');
});

test("backend: 'io_uring' named explicitly rejects when io_uring is refused", () => {
  const out = runRefused(
    {},
    `try { await r.serve({}, 'tcp://127.0.0.1:0', { backend: 'io_uring' }); out.served = true; }
      catch (e) { out.code = e.code; out.message = e.message; out.reason = e.reason; }`,
  );
  assert.strictEqual(out.crash, undefined, out.crash);
  assert.strictEqual(out.served, undefined);
  assert.strictEqual(out.code, 'ERR_RINGNET_BACKEND_UNAVAILABLE');
  assert.strictEqual(out.reason, 'ENOSYS');
  assert.match(out.message, /backend 'io_uring' is unavailable: .*(RINGNET_IO_URING_DISABLE|built without liburing)/);
});

test('ringnet echo --backend io_uring reports the backend it runs on', { skip: !HAVE_URING && 'io_uring refused here' }, async () => {
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, [path.join(__dirname, '../../dist/cli.js'), 'echo', '--port', '0', '--backend', 'io_uring'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const line = await new Promise((ok, fail) => {
      let buf = '';
      const t = setTimeout(() => fail(new Error(`no listening line: ${buf}`)), 15000);
      child.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) {
          clearTimeout(t);
          ok(buf);
        }
      });
      child.once('exit', (c) => fail(new Error(`exited ${c}: ${buf}`)));
    });
    assert.match(line, /backend: io_uring\)/);
    const port = Number(/:(\d+) /.exec(line)[1]);
    const s = await connect({ address: { port, address: '127.0.0.1' } });
    const reply = readBytes(s, 5);
    s.write('hello');
    assert.strictEqual((await reply).toString(), 'hello');
    s.destroy();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  }
});
