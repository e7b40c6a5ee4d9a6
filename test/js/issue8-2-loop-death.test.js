'use strict';
// Issue 8, item 2: a loop thread that fails (an uncaught exception or unhandled
// rejection escaping the handler module) is an engine event. It leaves balancing
// at once (the next connections are all served), its connections are reset with
// the error, 'loopError' says so, the loop is restarted (rate-limited) and, when
// no loop is left, the engine stops and says why.
// The repro: loops: 2, round-robin, one timer that throws on one loop thread: 7 of
// the next 8 connections got an immediate EOF and nothing was reported.
const { test } = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const { ringnet, until } = require('./helpers');
const { fixture } = require('./multi-helpers');

const HANDLER = fixture('dies-on-command.js');

/** One request on a new connection: resolves with the reply (rejects on EOF, reset or timeout). */
function request(engine, msg, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(engine.address.port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => done(new Error(`no reply to '${msg}' in ${timeoutMs} ms`)), timeoutMs);
    const done = (err) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(out);
    };
    s.on('connect', () => s.write(msg));
    s.on('data', (d) => {
      out += d;
      if (out.endsWith(msg)) done();
    });
    s.on('error', (e) => done(e));
    s.on('end', () => done(new Error(`EOF before a reply to '${msg}' (got '${out}')`)));
  });
}

/** An open connection whose loop is known (from the echo's prefix). */
async function connOn(engine, wantLoop) {
  for (let i = 0; i < 16; i++) {
    const s = net.connect(engine.address.port, '127.0.0.1');
    await new Promise((r, j) => s.once('connect', r).once('error', j));
    s.write('which');
    const reply = await new Promise((r, j) => s.once('data', (d) => r(String(d))).once('error', j));
    const loop = Number(reply.split(':')[0]);
    if (loop === wantLoop) return s;
    s.destroy();
  }
  throw new Error(`no connection landed on loop ${wantLoop}`);
}

function nextEvent(emitter, name, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${name}' event in ${timeoutMs} ms`)), timeoutMs);
    emitter.once(name, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

async function serveAll(opts) {
  return ringnet.serve(HANDLER, 'tcp://127.0.0.1:0', { loops: 2, ...opts });
}

for (const mode of [{}, { reusePort: true }]) {
  const name = mode.reusePort ? 'reusePort' : 'main reactor';
  test(`issue8-2 (${name}): a timer that throws on one loop: reported, its connection reset, the next 8 connections all served, restarted`, async () => {
    const engine = await serveAll(mode);
    try {
      const victim = await connOn(engine, 1);
      const reset = new Promise((r) => victim.once('close', r));
      victim.on('error', () => undefined);
      const ev = nextEvent(engine, 'loopError');
      victim.write('die:timer');
      const [err, info] = await ev;
      assert.strictEqual(err.code, 'ERR_RINGNET_LOOP_FAILED');
      assert.match(err.message, /loop 1 failed: boom from a timer on loop 1/);
      assert.match(err.cause.stack, /dies-on-command\.js/);
      assert.deepStrictEqual({ index: info.index, restarting: info.restarting, failures: info.failures }, { index: 1, restarting: true, failures: 1 });
      await reset; // the dying loop's own connection does not linger
      assert.strictEqual(engine.stopped, false);
      // The moment loopError is seen, the failed loop is out of balancing.
      const replies = [];
      for (let i = 0; i < 8; i++) replies.push(await request(engine, `req${i}`));
      replies.forEach((r, i) => assert.match(r, new RegExp(`^[01]:req${i}$`)));
      // The restart: both loops serve again.
      await until(() => engine.loops.every((l) => l.running), 10000, 'loop 1 to be restarted');
      assert.notStrictEqual(engine.loops[1].id, info.id, 'a new native loop');
      const seen = new Set();
      for (let i = 0; i < 8; i++) seen.add((await request(engine, `again${i}`)).split(':')[0]);
      if (!mode.reusePort) assert.deepStrictEqual([...seen].sort(), ['0', '1'], 'round-robin reaches the restarted loop');
    } finally {
      await engine.stop();
    }
  });
}

test('issue8-2: loopRestarts 0: the failed loop stays down, the other serves every connection, stats keep its last figures', async () => {
  const engine = await serveAll({ loopRestarts: 0 });
  try {
    const victim = await connOn(engine, 0);
    victim.on('error', () => undefined);
    const ev = nextEvent(engine, 'loopError');
    victim.write('die:reject'); // an unhandled rejection fails the loop the same way
    const [err, info] = await ev;
    assert.match(err.message, /loop 0 failed: unhandled rejection on loop 0/);
    assert.strictEqual(info.restarting, false);
    for (let i = 0; i < 8; i++) assert.strictEqual(await request(engine, `r${i}`), `1:r${i}`);
    assert.deepStrictEqual(engine.loops.map((l) => l.running), [false, true]);
    const dead = engine.stats()[0];
    assert.ok(dead.accepts >= 1 && dead.bytesIn > 0, `the failed loop's last figures: ${JSON.stringify(dead)}`);
    assert.strictEqual(engine.stopped, false);
  } finally {
    await engine.stop();
  }
  const after = engine.stats();
  assert.ok(after[1].accepts >= 8, `stats() after stop() keeps the last figures: ${JSON.stringify(after[1])}`);
});

test("issue8-2: when every loop has failed and none is restarted, the engine stops and says why ('error')", async () => {
  const engine = await serveAll({ loopRestarts: 0 });
  const errors = [];
  engine.on('loopError', () => undefined);
  const stopped = nextEvent(engine, 'error');
  const closed = nextEvent(engine, 'close');
  for (const loop of [0, 1]) {
    const s = await connOn(engine, loop);
    s.on('error', () => undefined);
    const ev = nextEvent(engine, 'loopError');
    s.write('die:timer');
    errors.push((await ev)[0]);
  }
  const [reason] = await stopped;
  assert.strictEqual(reason.code, 'ERR_RINGNET_NO_LOOPS');
  assert.match(reason.message, /every loop has failed/);
  assert.strictEqual(reason.cause, errors[1]);
  assert.strictEqual(engine.stopped, true);
  assert.strictEqual(engine.stopReason, reason);
  await closed;
  await engine.stop(); // the same stop
  await assert.rejects(request(engine, 'anyone?', 2000));
});

test('issue8-2: restarts are rate-limited: past loopRestarts failures a minute, the loop stays down', async () => {
  const engine = await serveAll({ loopRestarts: 1 });
  try {
    const infos = [];
    engine.on('loopError', (_e, info) => infos.push(info));
    for (let n = 1; n <= 2; n++) {
      await until(() => engine.loops[1].running, 10000, 'loop 1 running');
      const s = await connOn(engine, 1);
      s.on('error', () => undefined);
      s.write('die:timer');
      await until(() => infos.length === n, 10000, `failure ${n}`);
    }
    assert.deepStrictEqual(infos.map((i) => [i.restarting, i.failures]), [[true, 1], [false, 2]]);
    assert.strictEqual(engine.loops[1].running, false);
    for (let i = 0; i < 4; i++) assert.strictEqual(await request(engine, `r${i}`), `0:r${i}`);
  } finally {
    await engine.stop();
  }
});
