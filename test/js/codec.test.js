'use strict';
// Issue 12: native framing codecs wired into the loop. Every codec, frames split
// at every byte (each byte its own read), many frames in one read (more than one
// batch's frames buffer), a frame spanning the inbound limit, over-max frames
// (ERR_RINGNET_FRAME_TOO_LARGE), writeFrame round trips through node:net, dialed
// connections, loops: 2, TLS and io_uring.
// io_uring for all of it: RINGNET_BACKEND=io_uring node --test test/js/codec.test.js
const { test } = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { ringnet, LOOPBACK, connect, readBytes, closed, until } = require('./helpers');

const fixture = (name) => path.join(__dirname, '..', 'fixtures', 'handlers', name);

// A 4-byte big-endian length, then the payload (the default length-field codec).
function lf(payload) {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(p.length);
  return Buffer.concat([h, p]);
}

// Split a buffer of length-field frames (4-byte BE) into payloads; the rest stays.
function unlf(buf) {
  const out = [];
  let off = 0;
  while (buf.length - off >= 4 && buf.length - off - 4 >= buf.readUInt32BE(off)) {
    const n = buf.readUInt32BE(off);
    out.push(buf.subarray(off + 4, off + 4 + n).toString());
    off += 4 + n;
  }
  return { frames: out, rest: buf.subarray(off) };
}

/** A server that records frames (as strings) and closes, with optional replies. */
async function recorder(codec, opts = {}, reply) {
  const frames = [];
  const closes = [];
  const order = [];
  const engine = await ringnet.serve(
    {
      onMessage(c, f) {
        assert.ok(Buffer.isBuffer(f));
        frames.push(Buffer.from(f));
        order.push('message');
        if (reply) reply(c, f);
      },
      onEnd() {
        order.push('end');
      },
      onClose(c, err) {
        closes.push(err);
      },
    },
    LOOPBACK,
    { codec, ...opts },
  );
  return { engine, frames, closes, order };
}

// Send `stream` one byte at a time, each byte its own read on the server (wait for
// bytesIn to count it); after each byte the frames delivered are exactly those
// complete in the prefix.
async function byteByByte(codec, stream, want, prefixFrames) {
  const r = await recorder(codec);
  const s = await connect(r.engine);
  s.setNoDelay(true);
  try {
    for (let i = 0; i < stream.length; i++) {
      s.write(stream.subarray(i, i + 1));
      await until(() => r.engine.stats()[0].bytesIn === i + 1, 5000, `byte ${i}`);
      assert.strictEqual(r.frames.length, prefixFrames(i + 1), `frames after ${i + 1} bytes`);
    }
    assert.deepStrictEqual(r.frames.map(String), want);
    assert.deepStrictEqual(r.closes, []);
  } finally {
    s.destroy();
    await r.engine.stop();
  }
}

test('length-field: frames split at every byte are delivered whole, in order', async () => {
  const want = ['hello', '', 'x', 'a longer frame of bytes'];
  const stream = Buffer.concat(want.map(lf));
  const ends = [];
  let at = 0;
  for (const w of want) ends.push((at += 4 + Buffer.byteLength(w)));
  await byteByByte({ type: 'length-field' }, stream, want, (n) => ends.filter((e) => e <= n).length);
});

test('delimiter: several delimiters, earliest wins, split at every byte', async () => {
  // one\r\n (ends at 5) two|| (10) x\r\n (13) || (15) three\r\n (22)
  const stream = Buffer.from('one\r\ntwo||x\r\n||three\r\n');
  const ends = [5, 10, 13, 15, 22];
  await byteByByte({ type: 'delimiter', delimiters: ['\r\n', Buffer.from('||')] }, stream, ['one', 'two', 'x', '', 'three'], (n) => ends.filter((e) => e <= n).length);
});

test('fixed and line: split at every byte', async () => {
  await byteByByte({ type: 'fixed', frameLength: 3 }, Buffer.from('abcdefghi'), ['abc', 'def', 'ghi'], (n) => Math.floor(n / 3));
  const lines = Buffer.from('a\r\nbb\n\nccc\r\n');
  const ends = [3, 6, 7, 12];
  await byteByByte({ type: 'line' }, lines, ['a', 'bb', '', 'ccc'], (n) => ends.filter((e) => e <= n).length);
});

test('stripDelimiter false keeps the delimiter; the line codec keeps CRLF or LF', async () => {
  const r = await recorder({ type: 'delimiter', delimiters: [';'], stripDelimiter: false });
  const r2 = await recorder({ type: 'line', stripDelimiter: false });
  const s = await connect(r.engine);
  const s2 = await connect(r2.engine);
  try {
    s.write('a;b;;');
    s2.write('x\r\ny\n');
    await until(() => r.frames.length === 3 && r2.frames.length === 2, 5000, 'frames');
    assert.deepStrictEqual(r.frames.map(String), ['a;', 'b;', ';']);
    assert.deepStrictEqual(r2.frames.map(String), ['x\r\n', 'y\n']);
  } finally {
    s.destroy();
    s2.destroy();
    await r.engine.stop();
    await r2.engine.stop();
  }
});

test('many frames in one read: all delivered in order, across several batches, before onEnd', async () => {
  // batchEvents 16: the frames buffer holds 4096 records a batch (its least), so
  // 10000 frames take several batches (FR_MORE), and the FIN after them waits for all.
  const r = await recorder({ type: 'length-field', lengthFieldLength: 2 }, { batchEvents: 16 });
  const s = await connect(r.engine);
  try {
    const want = Array.from({ length: 10000 }, (_, i) => `m${i}`);
    const stream = Buffer.concat(
      want.map((w) => {
        const b = Buffer.alloc(2 + w.length);
        b.writeUInt16BE(w.length);
        b.write(w, 2);
        return b;
      }),
    );
    s.end(stream);
    await until(() => r.closes.length === 1, 10000, 'close');
    assert.strictEqual(r.frames.length, want.length);
    assert.deepStrictEqual(r.frames.map(String), want);
    assert.strictEqual(r.order.indexOf('end'), want.length, 'onEnd after every frame');
    assert.strictEqual(r.closes[0], undefined);
    assert.ok(r.engine.stats()[0].batches > 3, `batches: ${r.engine.stats()[0].batches}`);
  } finally {
    s.destroy();
    await r.engine.stop();
  }
});

test('a frame larger than the inbound limit (within maxFrameLength) is delivered whole', async () => {
  const big = crypto.randomBytes(600 * 1024);
  const digests = [];
  const engine = await ringnet.serve(
    {
      onMessage(c, f) {
        digests.push({ len: f.length, sha: crypto.createHash('sha256').update(f).digest('hex') });
        c.writeFrame(String(f.length));
      },
    },
    LOOPBACK,
    { codec: { type: 'length-field', maxFrameLength: 2 << 20 }, readBufferCap: 16384, inboundLimit: 65536 },
  );
  const s = await connect(engine);
  try {
    s.write(Buffer.concat([lf(big), lf('after')]));
    const got = await readBytes(s, 4 + 6 + 4 + 1);
    assert.deepStrictEqual(unlf(got).frames, [String(big.length), '5']);
    assert.strictEqual(digests[0].len, big.length);
    assert.strictEqual(digests[0].sha, crypto.createHash('sha256').update(big).digest('hex'));
  } finally {
    s.destroy();
    await engine.stop();
  }
});

test('over maxFrameLength: replies to the frames before go out, then the connection closes with ERR_RINGNET_FRAME_TOO_LARGE', async () => {
  const cases = [
    { codec: { type: 'length-field', maxFrameLength: 1000 }, bad: Buffer.from([0, 0, 0x13, 0x88]), msg: /length-field frame of 5004 bytes.*maxFrameLength \(1000 bytes\)/ },
    { codec: { type: 'delimiter', delimiters: ['\n'], maxFrameLength: 10 }, bad: Buffer.from('x'.repeat(40)), msg: /delimiter codec found no delimiter within maxFrameLength \(10 bytes\)/ },
    { codec: { type: 'line', maxFrameLength: 10 }, bad: Buffer.from(`${'y'.repeat(11)}\n`), msg: /line codec .*maxFrameLength \(10 bytes\)/ },
  ];
  for (const k of cases) {
    const good = k.codec.type === 'length-field' ? lf('ok') : Buffer.from('ok\n');
    const r = await recorder(k.codec, {}, (c, f) => c.write(`got ${f}|`));
    const s = await connect(r.engine);
    try {
      s.write(Buffer.concat([good, k.bad]));
      const got = await readBytes(s, Infinity);
      assert.strictEqual(got.toString(), 'got ok|', k.codec.type);
      await until(() => r.closes.length === 1, 5000, 'onClose');
      const err = r.closes[0];
      assert.ok(err, `${k.codec.type}: onClose has an error`);
      assert.strictEqual(err.code, 'ERR_RINGNET_FRAME_TOO_LARGE');
      assert.match(err.message, k.msg);
      assert.deepStrictEqual(r.frames.map(String), ['ok']);
    } finally {
      s.destroy();
      await r.engine.stop();
    }
  }
});

test('a length field that makes no frame closes with ERR_RINGNET_FRAME_INVALID', async () => {
  // The field counts the whole frame (adjustment -4): a value under 4 is corrupt.
  const r = await recorder({ type: 'length-field', lengthAdjustment: -4, initialBytesToStrip: 4 });
  const s = await connect(r.engine);
  try {
    s.write(Buffer.from([0, 0, 0, 6, 0x61, 0x62, 0, 0, 0, 1]));
    await until(() => r.closes.length === 1, 5000, 'onClose');
    assert.deepStrictEqual(r.frames.map(String), ['ab']);
    assert.strictEqual(r.closes[0].code, 'ERR_RINGNET_FRAME_INVALID');
    assert.match(r.closes[0].message, /gives a frame of 1 bytes/);
  } finally {
    s.destroy();
    await r.engine.stop();
  }
});

test('writeFrame round trip through node:net: every field size and byte order, offset, large payloads', async () => {
  for (const [len, order] of [[1, 'big'], [2, 'little'], [3, 'big'], [4, 'little'], [8, 'big'], [8, 'little']]) {
    const codec = { type: 'length-field', lengthFieldOffset: 2, lengthFieldLength: len, byteOrder: order, maxFrameLength: 1 << 22 };
    const engine = await ringnet.serve({ onMessage: (c, f) => void c.writeFrame(f) }, LOOPBACK, { codec });
    const s = await connect(engine);
    try {
      const payloads = [Buffer.from('hi'), crypto.randomBytes(len === 1 ? 255 : len === 2 ? 65535 : 300000), Buffer.alloc(0)];
      const frame = (p) => {
        const h = Buffer.alloc(2 + len);
        let v = BigInt(p.length);
        for (let i = 0; i < len; i++) {
          h[order === 'big' ? 2 + len - 1 - i : 2 + i] = Number(v & 0xffn);
          v >>= 8n;
        }
        return Buffer.concat([h, p]);
      };
      const wire = Buffer.concat(payloads.map(frame));
      s.write(wire);
      const back = await readBytes(s, wire.length);
      assert.ok(back.equals(wire), `${len} ${order}: the reply is the same frames, header zeros and all`);
    } finally {
      s.destroy();
      await engine.stop();
    }
  }
});

test('writeFrame: delimiter appends the first delimiter, line its lineEnding, fixed checks the size', async () => {
  const seen = [];
  const mk = (codec, fn) => ringnet.serve({ onMessage: fn }, LOOPBACK, { codec });
  const d = await mk({ type: 'delimiter', delimiters: ['\0', '\n'] }, (c, f) => void c.writeFrame(f));
  const l = await mk({ type: 'line', lineEnding: '\r\n' }, (c, f) => void c.writeFrame(`<${f}>`));
  const fx = await mk({ type: 'fixed', frameLength: 4 }, (c, f) => {
    try {
      c.writeFrame('abc');
    } catch (e) {
      seen.push(e.code);
    }
    c.writeFrame(f);
  });
  const sockets = [];
  try {
    const sd = await connect(d);
    const sl = await connect(l);
    const sf = await connect(fx);
    sockets.push(sd, sl, sf);
    sd.write('a\nb\0');
    sl.write('x\ny\r\n');
    sf.write('abcdwxyz');
    assert.strictEqual((await readBytes(sd, 4)).toString(), 'a\0b\0');
    assert.strictEqual((await readBytes(sl, 10)).toString(), '<x>\r\n<y>\r\n');
    assert.strictEqual((await readBytes(sf, 8)).toString(), 'abcdwxyz');
    assert.deepStrictEqual(seen, ['ERR_RINGNET_INVALID_ARG', 'ERR_RINGNET_INVALID_ARG']);
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all([d.stop(), l.stop(), fx.stop()]);
  }
});

test('writeFrame refuses a frame it cannot encode; peek/next on a codec connection throw', async () => {
  const errs = [];
  const engine = await ringnet.serve(
    {
      onMessage(c) {
        for (const fn of [() => c.writeFrame(Buffer.alloc(300)), () => c.peek(), () => c.next(), () => c.discard(1)]) {
          try {
            fn();
          } catch (e) {
            errs.push(e.code);
          }
        }
        c.writeFrame('ok');
      },
    },
    LOOPBACK,
    { codec: { type: 'length-field', lengthFieldLength: 1 } },
  );
  const plain = await ringnet.serve(
    {
      onTraffic(c) {
        c.next();
        try {
          c.writeFrame('x');
        } catch (e) {
          errs.push(e.code);
        }
        c.write('done');
      },
    },
    LOOPBACK,
  );
  const s = await connect(engine);
  const p = await connect(plain);
  try {
    s.write(Buffer.from([1, 0x41]));
    assert.deepStrictEqual([...(await readBytes(s, 3))], [2, 0x6f, 0x6b]);
    p.write('x');
    await readBytes(p, 4);
    assert.deepStrictEqual(errs, ['ERR_RINGNET_FRAME_TOO_LARGE', 'ERR_RINGNET_HAS_CODEC', 'ERR_RINGNET_HAS_CODEC', 'ERR_RINGNET_HAS_CODEC', 'ERR_RINGNET_NO_CODEC']);
  } finally {
    s.destroy();
    p.destroy();
    await engine.stop();
    await plain.stop();
  }
});

test('codec options are validated, naming the field; a codec needs onMessage', async () => {
  const bad = [
    [{ type: 'nope' }, /codec'\.type must be/],
    [{ type: 'length-field', lengthFieldLength: 5 }, /lengthFieldLength must be 1, 2, 3, 4 or 8/],
    [{ type: 'length-field', byteOrder: 'middle' }, /byteOrder must be 'big' or 'little'/],
    [{ type: 'length-field', maxFrameLength: 2 ** 31 }, /maxFrameLength must be an integer/],
    [{ type: 'length-field', lengthFieldOffset: 10, maxFrameLength: 8 }, /maxFrameLength must be at least the header/],
    [{ type: 'length-field', initialBytesToStrip: -1 }, /initialBytesToStrip must be/],
    [{ type: 'length-field', lengthAdjustment: 1.5 }, /lengthAdjustment must be/],
    [{ type: 'length-field', maxLen: 3 }, /unknown field 'maxLen'/],
    [{ type: 'delimiter', delimiters: [] }, /delimiters must be an array of 1 to 4/],
    [{ type: 'delimiter', delimiters: ['a', 'b', 'c', 'd', 'e'] }, /delimiters must be an array of 1 to 4/],
    [{ type: 'delimiter', delimiters: ['x'.repeat(17)] }, /delimiters\[0\] must be 1 to 16 bytes/],
    [{ type: 'delimiter', delimiters: [''] }, /delimiters\[0\] must be 1 to 16 bytes/],
    [{ type: 'delimiter', delimiters: [5] }, /delimiters\[0\] must be a string or a Buffer/],
    [{ type: 'delimiter', delimiters: ['\n'], stripDelimiter: 'yes' }, /stripDelimiter must be a boolean/],
    [{ type: 'fixed' }, /frameLength must be an integer/],
    [{ type: 'fixed', frameLength: 0 }, /frameLength must be an integer/],
    [{ type: 'line', lineEnding: '\r' }, /lineEnding must be/],
    ['line', /option 'codec' must be an object/],
  ];
  const h = { onMessage() {} };
  for (const [codec, re] of bad) {
    await assert.rejects(ringnet.serve(h, LOOPBACK, { codec }), (e) => {
      assert.strictEqual(e.code, 'ERR_RINGNET_INVALID_OPTION', JSON.stringify(codec));
      assert.match(e.message, re);
      return true;
    });
  }
  await assert.rejects(ringnet.serve({ onTraffic() {} }, LOOPBACK, { codec: { type: 'line' } }), (e) => {
    assert.strictEqual(e.code, 'ERR_RINGNET_INVALID_HANDLER');
    assert.match(e.message, /onMessage/);
    return true;
  });
  await assert.rejects(ringnet.serve({ onMessage: 3 }, LOOPBACK, { codec: { type: 'line' } }), { code: 'ERR_RINGNET_INVALID_HANDLER' });
  const client = await ringnet.createClient({ onTraffic() {} });
  try {
    await assert.rejects(client.dial('tcp://127.0.0.1:1', { codec: { type: 'line' } }), { code: 'ERR_RINGNET_INVALID_HANDLER' });
    await assert.rejects(client.dial('tcp://127.0.0.1:1', { codec: { type: 'fixed', frameLength: -1 } }), (e) => {
      assert.strictEqual(e.code, 'ERR_RINGNET_INVALID_OPTION');
      assert.match(e.message, /dial option 'codec'\.frameLength/);
      return true;
    });
  } finally {
    await client.stop();
  }
});

test('dialed connections: createClient codec, a per-dial codec, and codec: null', async () => {
  // The server speaks lines; its replies are length-field frames? No: one protocol
  // per connection. Server: line codec, answers each line framed as a line.
  const server = await ringnet.serve({ onMessage: (c, f) => void c.writeFrame(`echo ${f}`) }, LOOPBACK, { codec: { type: 'line' } });
  const got = [];
  const raw = [];
  const client = await ringnet.createClient(
    {
      onMessage: (c, f) => void got.push(`${c.context}:${f}`),
      onTraffic: (c) => void raw.push(c.next().toString()),
    },
    { codec: { type: 'line' } },
  );
  try {
    const a = await client.dial(server.addr, { context: 'a' }); // the engine's codec
    const b = await client.dial(server.addr, { context: 'b', codec: { type: 'delimiter', delimiters: ['\n'] } });
    const n = await client.dial(server.addr, { context: 'n', codec: null });
    a.writeFrame('one');
    a.writeFrame('two');
    b.writeFrame('three');
    n.write('raw\n');
    await until(() => got.length === 3 && raw.join('') === 'echo raw\n', 5000, 'replies');
    assert.deepStrictEqual(got.sort(), ['a:echo one', 'a:echo two', 'b:echo three']);
    assert.throws(() => n.writeFrame('x'), { code: 'ERR_RINGNET_NO_CODEC' });
  } finally {
    await client.stop();
    await server.stop();
  }
});

test('a server handler dials with the engine codec: a framed proxy on one loop', async () => {
  const upstream = await ringnet.serve({ onMessage: (c, f) => void c.writeFrame(Buffer.from(f).reverse()) }, LOOPBACK, { codec: { type: 'length-field' } });
  let engine;
  let ready = false;
  engine = await ringnet.serve(
    {
      async onOpen(c) {
        if (c.dialed) return;
        c.context = { up: await engine.dial(upstream.addr, { context: { down: c } }) };
        ready = true;
      },
      onMessage(c, f) {
        if (c.dialed) c.context.down.writeFrame(f);
        else c.context?.up.writeFrame(f);
      },
    },
    LOOPBACK,
    { codec: { type: 'length-field' } },
  );
  const s = await connect(engine);
  try {
    await until(() => ready, 5000, 'upstream dialed');
    s.write(Buffer.concat([lf('abc'), lf('hello')]));
    assert.deepStrictEqual(unlf(await readBytes(s, 4 + 3 + 4 + 5)).frames, ['cba', 'olleh']);
  } finally {
    s.destroy();
    await engine.stop();
    await upstream.stop();
  }
});

test('loops: 2: worker loops frame too', async () => {
  const engine = await ringnet.serve(fixture('frame-echo.js'), LOOPBACK, { loops: 2, codec: { type: 'length-field', lengthFieldLength: 2, lengthAdjustment: 0 } });
  const socks = [];
  try {
    const answers = new Set();
    for (let i = 0; i < 4; i++) {
      const s = await connect(engine);
      socks.push(s);
      const msg = `conn${i}`;
      const b = Buffer.alloc(2 + msg.length);
      b.writeUInt16BE(msg.length);
      b.write(msg, 2);
      // split across two writes
      s.write(b.subarray(0, 3));
      await new Promise((r) => setTimeout(r, 20));
      s.write(b.subarray(3));
      const back = await readBytes(s, 2 + 3 + msg.length);
      assert.strictEqual(back.readUInt16BE(0), 3 + msg.length);
      const text = back.subarray(2).toString();
      assert.match(text, new RegExp(`^L[01]:${msg}$`));
      answers.add(text.slice(0, 2));
    }
    assert.deepStrictEqual([...answers].sort(), ['L0', 'L1'], 'both loops answered');
  } finally {
    for (const s of socks) s.destroy();
    await engine.stop();
  }
});

test('TLS listener: frames are cut from the plaintext', async () => {
  const { makeCerts } = require('./tls-helpers');
  if (ringnet.native.tlsUnavailable()) return;
  const certs = makeCerts();
  const engine = await ringnet.serve({ onMessage: (c, f) => void c.writeFrame(`${f.length}`) }, 'tls://127.0.0.1:0', {
    tls: certs.server,
    codec: { type: 'line' },
  });
  const tls = require('node:tls');
  const s = await new Promise((resolve, reject) => {
    const t = tls.connect({ port: engine.address.port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost' }, () => resolve(t));
    t.once('error', reject);
  });
  try {
    s.write('ab\nc');
    await new Promise((r) => setTimeout(r, 20));
    s.write(`d\n${'x'.repeat(20000)}\n`);
    assert.strictEqual((await readBytes(s, 10)).toString(), '2\n2\n20000\n');
  } finally {
    s.destroy();
    await engine.stop();
  }
});

test("backend 'io_uring' (where the kernel allows it): split frames and many frames", async (t) => {
  let r;
  try {
    r = await recorder({ type: 'length-field' }, { backend: 'io_uring', batchEvents: 16 }, (c, f) => c.writeFrame(f));
  } catch (e) {
    if (e.code === 'ERR_RINGNET_BACKEND_UNAVAILABLE') return t.skip(e.message);
    throw e;
  }
  const s = await connect(r.engine);
  try {
    assert.strictEqual(r.engine.backend, 'io_uring');
    const want = Array.from({ length: 5000 }, (_, i) => `f${i}`);
    const wire = Buffer.concat(want.map(lf));
    s.write(wire.subarray(0, 5));
    await until(() => r.engine.stats()[0].bytesIn === 5, 5000, 'first part');
    s.write(wire.subarray(5));
    const back = await readBytes(s, wire.length);
    assert.ok(back.equals(wire));
    assert.deepStrictEqual(r.frames.map(String), want);
  } finally {
    s.destroy();
    await r.engine.stop();
  }
});

test('closing in onMessage stops the rest of the frames of that read', async () => {
  const r = await recorder({ type: 'line' }, {}, (c, f) => {
    if (String(f) === 'stop') c.close();
  });
  const s = await connect(r.engine);
  try {
    s.write('a\nstop\nb\nc\n');
    await closed(s);
    await until(() => r.closes.length === 1, 5000, 'close');
    assert.deepStrictEqual(r.frames.map(String), ['a', 'stop']);
  } finally {
    s.destroy();
    await r.engine.stop();
  }
});
