'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes } = require('./helpers');

test('many small writes in one callback reach the kernel as one syscall', async () => {
  let before;
  let after;
  let engine;
  engine = await ringnet.serve(
    {
      onTraffic(c) {
        c.discard(c.inboundBuffered);
        before = engine.stats()[0].writes;
        for (let i = 0; i < 100; i++) c.write(`line ${i}\n`);
        c.writev([Buffer.from('a'), 'b', new Uint8Array([99])]);
        c.write(Buffer.alloc(10000, 1)); // a large one is sent from JS memory, same syscall
        setImmediate(() => (after = engine.stats()[0].writes));
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    s.write('go');
    let expected = '';
    for (let i = 0; i < 100; i++) expected += `line ${i}\n`;
    expected += 'abc';
    const got = await readBytes(s, expected.length + 10000);
    assert.strictEqual(got.subarray(0, expected.length).toString(), expected);
    assert.ok(got.subarray(expected.length).equals(Buffer.alloc(10000, 1)));
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(after - before, 1, `expected 1 write syscall, saw ${after - before}`);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('writes outside a callback (timers) are flushed too, in order', async () => {
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        setTimeout(() => {
          c.write('one ');
          c.write('two ');
          setImmediate(() => c.write('three'));
        }, 10);
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    assert.strictEqual((await readBytes(s, 13)).toString(), 'one two three');
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('write accepts strings, Buffers, typed arrays, DataView and ArrayBuffer', async () => {
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        c.write('s');
        c.write(Buffer.from('b'));
        c.write(new Uint16Array([0x6161])); // "aa"
        c.write(new DataView(new Uint8Array([100]).buffer)); // "d"
        c.write(new Uint8Array([101]).buffer); // "e"
        c.write('é'); // 2 bytes of UTF-8
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    assert.strictEqual((await readBytes(s, 8)).toString(), 'sbaadeé');
    s.destroy();
  } finally {
    await engine.stop();
  }
});
