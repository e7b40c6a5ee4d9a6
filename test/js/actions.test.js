'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, closed, until } = require('./helpers');
const { Action } = ringnet;

async function stoppedSoon(engine) {
  // Action.Shutdown stops the engine: its listener goes away and stop() resolves.
  await until(() => engine.stopped, 5000, 'engine to start stopping');
  await engine.stop();
}

test('Action.Close from onOpen closes the connection', async () => {
  let closes = 0;
  const engine = await ringnet.serve({ onOpen: () => Action.Close, onClose: () => void closes++ }, LOOPBACK);
  try {
    const s = await connect(engine);
    await closed(s);
    await until(() => closes === 1, 5000, 'onClose');
  } finally {
    await engine.stop();
  }
});

test('Action.Close from onTraffic sends queued bytes, then closes', async () => {
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        c.write(c.next());
        return Action.Close;
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    s.write('last words');
    const got = await readBytes(s, Infinity);
    assert.strictEqual(got.toString(), 'last words');
  } finally {
    await engine.stop();
  }
});

test('Action.Shutdown from onOpen stops the engine', async () => {
  const engine = await ringnet.serve({ onOpen: () => Action.Shutdown }, LOOPBACK);
  const s = await connect(engine);
  await stoppedSoon(engine);
  await closed(s);
  assert.strictEqual(engine.countConnections(), 0);
});

test('Action.Shutdown from onTraffic stops the engine', async () => {
  const engine = await ringnet.serve({ onTraffic: () => Action.Shutdown }, LOOPBACK);
  const s = await connect(engine);
  s.write('x');
  await stoppedSoon(engine);
  await closed(s);
});

test('Action.Shutdown from onClose stops the engine', async () => {
  const engine = await ringnet.serve({ onClose: () => Action.Shutdown }, LOOPBACK);
  const s = await connect(engine);
  s.end();
  await stoppedSoon(engine);
});

test('Action.Shutdown from onTick stops the engine', async () => {
  let ticks = 0;
  const engine = await ringnet.serve(
    {
      onTick() {
        ticks++;
        return { delay: 10, action: ticks === 3 ? Action.Shutdown : Action.None };
      },
    },
    LOOPBACK,
    { ticker: true },
  );
  await stoppedSoon(engine);
  assert.strictEqual(ticks, 3);
});

test('onBoot and onShutdown run once each', async () => {
  const calls = [];
  const engine = await ringnet.serve(
    {
      onBoot: (e) => void calls.push(['boot', typeof e.addr]),
      onShutdown: (e) => void calls.push(['shutdown', typeof e.addr]),
    },
    LOOPBACK,
  );
  await engine.stop();
  assert.deepStrictEqual(calls, [['boot', 'string'], ['shutdown', 'string']]);
});
