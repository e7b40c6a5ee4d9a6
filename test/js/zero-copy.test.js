'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const { ringnet, LOOPBACK, connect, readBytes, until } = require('./helpers');

test('peek returns views on inbound memory (no copy); next consumes', async () => {
  const seen = {};
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        if (c.inboundBuffered < 10) return;
        const a = c.peek(4);
        const b = c.peek();
        seen.sameMemory = a.buffer === b.buffer && a.byteOffset === b.byteOffset;
        seen.isBuffer = Buffer.isBuffer(a);
        // Node's own Buffer class (lib/view.ts makes it directly, not through subarray()).
        seen.bufferClass = Object.getPrototypeOf(a) === Buffer.prototype && a.constructor === Buffer && b.subarray(1).constructor === Buffer;
        // A view, not a copy: writing through one view shows in the other.
        const old = b[0];
        a[0] = 0x5a;
        seen.aliased = b[0] === 0x5a;
        a[0] = old;
        seen.peekLeft = c.inboundBuffered;
        const n = c.next(4);
        seen.next = n.toString();
        seen.afterNext = c.inboundBuffered;
        seen.rest = c.peek().toString();
        seen.discarded = c.discard(100);
        seen.afterDiscard = c.inboundBuffered;
        const into = Buffer.alloc(8);
        seen.readEmpty = c.read(into);
        seen.peekEmpty = c.peek().length;
        c.write('done');
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    s.write('abcdefghij');
    assert.strictEqual((await readBytes(s, 4)).toString(), 'done');
    assert.deepStrictEqual(seen, {
      sameMemory: true,
      isBuffer: true,
      bufferClass: true,
      aliased: true,
      peekLeft: 10,
      next: 'abcd',
      afterNext: 6,
      rest: 'efghij',
      discarded: 6,
      afterDiscard: 0,
      readEmpty: 0,
      peekEmpty: 0,
    });
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('writes of arena views: the last view, an older one, and slices of them, in the order written', async () => {
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        if (c.inboundBuffered < 8) return;
        const first = c.next(4); // an older view by the time of the writes
        const last = c.next(); // the last view made (recognised by identity)
        c.write(last.subarray(2));
        c.write(first);
        c.write(last.subarray(0, 2));
        c.write(last);
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    s.write('abcdefgh');
    assert.strictEqual((await readBytes(s, 12)).toString(), 'ghabcdefefgh');
    s.destroy();
  } finally {
    await engine.stop();
  }
});

test('unconsumed bytes stay buffered across callbacks until a frame is complete', async () => {
  // A length-prefixed protocol: wait for the whole frame before consuming.
  const frames = [];
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        while (c.inboundBuffered >= 4) {
          const len = c.peek(4).readUInt32BE(0);
          if (c.inboundBuffered < 4 + len) return;
          c.discard(4);
          frames.push(Buffer.from(c.next(len)).toString());
        }
      },
    },
    LOOPBACK,
  );
  try {
    const s = await connect(engine);
    const frame = (str) => {
      const b = Buffer.alloc(4 + Buffer.byteLength(str));
      b.writeUInt32BE(Buffer.byteLength(str), 0);
      b.write(str, 4);
      return b;
    };
    const all = Buffer.concat([frame('one'), frame('two'), frame('x'.repeat(200000))]);
    // Dribble it in pieces so frames straddle reads.
    for (let off = 0; off < all.length; off += 1000) {
      s.write(all.subarray(off, off + 1000));
      if (off % 50000 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => frames.length === 3, 10000, 'three frames');
    assert.deepStrictEqual(frames.slice(0, 2), ['one', 'two']);
    assert.strictEqual(frames[2], 'x'.repeat(200000));
    s.destroy();
  } finally {
    await engine.stop();
  }
});
