'use strict';
// What the issue 8 hammer found, each pinned by a plain test:
// 1. asyncWrite of a view of a SharedArrayBuffer (what a pool worker gets for a
//    small argument) crashed the process: the binding took Data() of an
//    ArrayBuffer that is not there.
// 2. Echoed bytes came back reordered when a handler consumed outside a batch
//    (setImmediate, a timer) and wrote again in the onWritable its own flush
//    caused: those writes waited for a batch end that never came, and the next
//    read moved the inbound bytes they referenced.
const { test } = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const crypto = require('node:crypto');
const { ringnet, LOOPBACK, connect, readBytes, until } = require('./helpers');

test('hammer find 1: asyncWrite of a SharedArrayBuffer view sends its bytes (no crash)', async () => {
  let conn;
  const engine = await ringnet.serve({ onOpen: (c) => void (conn = c) }, LOOPBACK);
  try {
    const s = await connect(engine);
    await until(() => conn !== undefined, 5000, 'onOpen');
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    shared.set(Buffer.from('shared memory, sent from a view of a SharedArrayBuffer'), 4);
    const got = readBytes(s, 20);
    ringnet.asyncWrite(conn.handle, shared.subarray(4, 24));
    assert.strictEqual((await got).toString(), 'shared memory, sent ');
    let err;
    conn.asyncWrite(new Uint8Array(new SharedArrayBuffer(8)), (e) => (err = e ?? null));
    await until(() => err !== undefined, 5000, 'the asyncWrite callback');
    assert.strictEqual(err, null);
    s.destroy();
  } finally {
    await engine.stop();
  }
});

for (const how of ['setImmediate', 'setTimeout']) {
  test(`hammer find 2: consuming from ${how} and writing again in onWritable keeps every byte in order`, async () => {
    let x = 0x2545f491;
    const rnd = () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x / 4294967296;
    };
    const later = how === 'setImmediate' ? setImmediate : (f) => setTimeout(f, 0);
    function step(c) {
      const s = c.context;
      if (!c.isOpen || s.held || s.blocked) return;
      while (c.isOpen && c.inboundBuffered > 0) {
        if (rnd() < 0.1) {
          s.held = true;
          later(() => ((s.held = false), step(c)));
          return;
        }
        if (!c.write(c.next(1 + Math.floor(rnd() * Math.min(c.inboundBuffered, 128 * 1024))))) {
          s.blocked = true;
          return;
        }
      }
    }
    const engine = await ringnet.serve(
      {
        onOpen: (c) => void (c.context = { held: false, blocked: false }),
        onTraffic: step,
        onWritable(c) {
          c.context.blocked = false;
          step(c);
        },
      },
      LOOPBACK,
      { inboundLimit: 256 * 1024, writeBufferCap: 32 * 1024 },
    );
    try {
      const TOTAL = 6 << 20;
      const data = crypto.randomBytes(TOTAL);
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          const s = net.connect(engine.address.port, '127.0.0.1');
          await new Promise((r, j) => s.once('connect', r).once('error', j));
          const got = readBytes(s, TOTAL, 60000);
          s.write(data);
          const back = await got;
          s.destroy();
          if (!back.equals(data)) {
            let i = 0;
            while (back[i] === data[i]) i++;
            assert.fail(`byte ${i} differs; the bytes there come from offset ${data.indexOf(back.subarray(i, i + 16))}`);
          }
        }),
      );
    } finally {
      await engine.stop();
    }
  });
}
