'use strict';
// Issue 8, "the small ones found on the way": bad options and handler fields are
// named, strings are called strings, the pool says what is wrong with a string
// code, next(-1) is a RangeError, stats() survive stop(), the CLI has --version,
// echo --help and names a bad flag, and @internal members stay out of the .d.ts.
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { spawnSync } = require('node:child_process');
const { ringnet, LOOPBACK, connect, until } = require('./helpers');

const root = path.join(__dirname, '..', '..');
const TASK = path.join(__dirname, 'fixtures', 'issue8-echo-task.js');

test('issue8-small: an unknown option is rejected, naming the key', async () => {
  await assert.rejects(ringnet.serve({}, LOOPBACK, { lops: 2 }), { code: 'ERR_RINGNET_INVALID_OPTION', message: /unknown option 'lops'/ });
  await assert.rejects(ringnet.serve({}, LOOPBACK, { outboundlimit: 1 }), { message: /unknown option 'outboundlimit'/ });
});

test('issue8-small: a handler callback field that is not a function is rejected, naming the field', async () => {
  await assert.rejects(ringnet.serve({ onTraffic: 5 }, LOOPBACK), {
    code: 'ERR_RINGNET_INVALID_HANDLER',
    message: /handler field 'onTraffic' must be a function, got 5/,
  });
  await assert.rejects(ringnet.serve({ onTraffic() {}, onClose: 'bye' }, LOOPBACK), { message: /'onClose' must be a function, got the string 'bye'/ });
});

test('issue8-small: a string where a number is expected is named as a string', async () => {
  await assert.rejects(ringnet.serve({}, LOOPBACK, { loops: '2' }), { code: 'ERR_RINGNET_INVALID_OPTION', message: /option 'loops' must be an integer in 1\.\.1024, got the string '2'/ });
  await assert.rejects(ringnet.serve({}, LOOPBACK, { inboundLimit: '4m' }), { message: /got the string '4m'/ });
});

test("issue8-small: pool options: unknown keys, size 'x', a non-cloneable argument — string codes and clear messages", async () => {
  assert.throws(() => new ringnet.WorkerPool(TASK, { sizee: 2 }), { code: 'ERR_POOL_INVALID_ARG', message: /unknown option 'sizee'/ });
  assert.throws(() => new ringnet.WorkerPool(TASK, { size: 'x' }), { code: 'ERR_POOL_INVALID_ARG', message: /size must be an integer in \[1, 256\], got the string 'x'/ });
  assert.throws(() => new ringnet.MultiPool(TASK, { pools: 'two' }), { message: /pools must be an integer in \[1, 256\], got the string 'two'/ });
  const pool = new ringnet.WorkerPool(TASK, { size: 1 });
  try {
    await assert.rejects(pool.submit({ fn: () => 1 }), (e) => {
      assert.strictEqual(typeof e.code, 'string');
      assert.strictEqual(e.code, 'ERR_POOL_INVALID_ARG');
      assert.match(e.message, /cannot be sent to a worker/);
      return true;
    });
    assert.throws(() => ringnet.WorkerPool.attach(pool.handle, { slot: 4 }), { code: 'ERR_POOL_INVALID_ARG', message: /unknown attach\(\) option 'slot'/ });
  } finally {
    await pool.release();
  }
});

test('issue8-small: next(-1), peek(-1), discard(-1) throw RangeError ERR_OUT_OF_RANGE; stats() after stop() keep the last figures', async () => {
  const seen = [];
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        for (const f of [() => c.next(-1), () => c.peek(-1), () => c.discard(-1), () => c.next(NaN)]) {
          try {
            f();
            seen.push('no throw');
          } catch (e) {
            seen.push(`${e.constructor.name} ${e.code}`);
          }
        }
        c.write(c.next());
      },
    },
    LOOPBACK,
  );
  const s = await connect(engine);
  s.write('ping');
  await new Promise((r) => s.once('data', r));
  s.destroy();
  await until(() => engine.countConnections() === 0, 5000, 'the close');
  const before = engine.stats()[0];
  await engine.stop();
  assert.deepStrictEqual(seen, Array(4).fill('RangeError ERR_OUT_OF_RANGE'));
  const after = engine.stats()[0];
  assert.strictEqual(after.accepts, 1);
  assert.strictEqual(after.bytesIn, 4);
  assert.deepStrictEqual(after, before);
});

test('issue8-small: ringnet --version, ringnet echo --help, --port abc names the flag', () => {
  const cli = path.join(root, 'dist', 'cli.js');
  const run = (...a) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', timeout: 20000 });
  const v = run('--version');
  assert.strictEqual(v.status, 0);
  assert.strictEqual(v.stdout.trim(), `ringnet ${require(path.join(root, 'package.json')).version}`);
  const h = run('echo', '--help');
  assert.strictEqual(h.status, 0, h.stderr);
  assert.match(h.stdout, /usage: ringnet echo/);
  assert.match(h.stdout, /--port P/);
  const p = run('echo', '--port', 'abc');
  assert.strictEqual(p.status, 2);
  assert.match(p.stderr, /--port must be an integer in 0\.\.65535, got 'abc'/);
  const l = run('echo', '--loops', 'x');
  assert.match(l.stderr, /--loops must be an integer in 1\.\.1024, got 'x'/);
  // Requiring the CLI module (for echoHandler) does not run it.
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(cli)})`], { encoding: 'utf8', timeout: 20000 });
  assert.strictEqual(r.stdout + r.stderr, '');
});

test('issue8-small: the .d.ts leave @internal members out (stripInternal); onClose errors are RingnetError', () => {
  const conn = fs.readFileSync(path.join(root, 'dist', 'conn.d.ts'), 'utf8');
  assert.doesNotMatch(conn, /readonly core:|postClose\(/, 'Conn internals in conn.d.ts');
  const engine = fs.readFileSync(path.join(root, 'dist', 'engine.d.ts'), 'utf8');
  assert.doesNotMatch(engine, /interface EngineImpl|function stopCores/);
  const handler = fs.readFileSync(path.join(root, 'dist', 'handler.d.ts'), 'utf8');
  assert.match(handler, /onClose\?\(conn: Conn, err\?: RingnetError\)/);
  assert.match(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8'), /"stripInternal": true/);
});
