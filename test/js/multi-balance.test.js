'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, connect, until } = require('./helpers');
const { fixture, reports, fnv1a } = require('./multi-helpers');

test('roundRobin: connection i goes to loop i mod N', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 3 });
  try {
    await until(() => r.of('boot').length === 3, 10000, 'three boots');
    const socks = [];
    for (let i = 0; i < 9; i++) {
      socks.push(await connect(engine));
      await until(() => r.of('open').length === i + 1, 5000, `open ${i}`);
    }
    assert.deepStrictEqual(r.of('open').map((e) => e.loop), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    assert.strictEqual(engine.countConnections(), 9);
    assert.deepStrictEqual(engine.stats().map((s) => s.connections), [3, 3, 3]);
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});

test('sourceAddrHash: the same client address always lands on the same loop', async () => {
  const r = reports();
  const N = 4;
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: N, loadBalancing: 'sourceAddrHash' });
  try {
    const sources = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
    const socks = [];
    let n = 0;
    for (let round = 0; round < 2; round++) {
      for (const src of sources) {
        socks.push(await connect(engine, { localAddress: src }));
        n++;
        await until(() => r.of('open').length === n, 5000, `open from ${src}`);
      }
    }
    for (const e of r.of('open')) {
      assert.strictEqual(e.loop, fnv1a(e.remote.address) % N, `client ${e.remote.address}`);
    }
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});

test('leastConnections: a new connection goes to the loop with the fewest', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 2, loadBalancing: 'leastConnections' });
  try {
    const socks = [];
    for (let i = 0; i < 4; i++) {
      socks.push(await connect(engine));
      await until(() => r.of('open').length === i + 1, 5000, `open ${i}`);
    }
    assert.deepStrictEqual(engine.stats().map((s) => s.connections).sort(), [2, 2]);
    // Empty loop 0's share: the next two must both go to loop 0.
    const opens = r.of('open');
    const onLoop0 = opens.map((e, i) => (e.loop === 0 ? i : -1)).filter((i) => i >= 0);
    for (const i of onLoop0) socks[i].destroy();
    await until(() => engine.stats()[0].connections === 0, 5000, 'loop 0 to empty');
    for (let i = 0; i < 2; i++) {
      socks.push(await connect(engine));
      await until(() => r.of('open').length === 5 + i, 5000, 'reopen');
    }
    assert.deepStrictEqual(r.of('open').slice(4).map((e) => e.loop), [0, 0]);
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});

test('reusePort: every loop has its own listener and serves connections', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), 'tcp://127.0.0.1:0', { loops: 2, reusePort: true });
  try {
    assert.ok(engine.address.port > 0);
    const socks = [];
    for (let i = 0; i < 64; i++) socks.push(await connect(engine));
    await until(() => r.of('open').length === 64, 10000, '64 opens');
    const perLoop = [0, 0];
    for (const e of r.of('open')) perLoop[e.loop]++;
    // The kernel spreads by 4-tuple hash: all 64 on one loop has odds 2^-63.
    assert.ok(perLoop[0] > 0 && perLoop[1] > 0, `spread ${perLoop}`);
    for (const s of socks) s.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});

test('several listeners in one engine', async () => {
  const r = reports();
  const engine = await ringnet.serve(fixture('report.js'), ['tcp://127.0.0.1:0', 'tcp://[::1]:0'], { loops: 2 });
  try {
    assert.strictEqual(engine.addrs.length, 2);
    const [v4, v6] = engine.addrs.map((a) => Number(a.split(':').pop()));
    const net = require('node:net');
    const a = net.connect(v4, '127.0.0.1');
    const b = net.connect(v6, '::1');
    await until(() => r.of('open').length === 2, 5000, 'two opens');
    a.destroy();
    b.destroy();
  } finally {
    await engine.stop();
    r.close();
  }
});
