'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, until } = require('./helpers');

test('onTick runs at the cadence it asks for', async () => {
  const times = [];
  const engine = await ringnet.serve(
    {
      onTick() {
        times.push(performance.now());
        return { delay: 50 };
      },
    },
    'tcp://127.0.0.1:0',
    { ticker: true },
  );
  try {
    await until(() => times.length >= 6, 10000, 'six ticks');
  } finally {
    await engine.stop();
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  // The first tick is immediate; later gaps are ≥ the delay asked for. Upper bounds
  // are generous: this machine is shared.
  for (const g of gaps.slice(1)) assert.ok(g >= 45 && g < 2000, `gap ${g} ms`);
  const n = times.length;
  await new Promise((r) => setTimeout(r, 150));
  assert.strictEqual(times.length, n, 'no ticks after stop');
});

test('no ticker unless the option is on', async () => {
  let ticks = 0;
  const engine = await ringnet.serve({ onTick: () => void ticks++ }, 'tcp://127.0.0.1:0');
  await new Promise((r) => setTimeout(r, 50));
  await engine.stop();
  assert.strictEqual(ticks, 0);
});
