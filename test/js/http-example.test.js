'use strict';
// examples/http (compiled to dist/examples/http): each HTTP/1.1 rule, driven
// over node:net sockets, plus the parser split at every byte.
const test = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const path = require('node:path');
const { ringnet, LOOPBACK } = require('./helpers');

const EX = path.join(__dirname, '..', '..', 'dist', 'examples', 'http');
const { createHttpHandler, HTTP_SERVE_OPTIONS } = require(path.join(EX, 'handler.js'));
const { appRouter } = require(path.join(EX, 'app.js'));
const { parseRequest, HttpRequest, NEED_MORE } = require(path.join(EX, 'parser.js'));

const LIMITS = { maxHeaderBytes: 1024, maxHeaders: 20, maxBodyBytes: 4096 };

async function withServer(opts, fn) {
  const handler = createHttpHandler(appRouter(), { ...LIMITS, requestTimeout: 400, idleTimeout: 5000, ...opts });
  const engine = await ringnet.serve(handler, LOOPBACK, HTTP_SERVE_OPTIONS);
  try {
    await fn(engine.address.port);
  } finally {
    await engine.stop();
  }
}

function dial(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setNoDelay(true);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// A response reader: collects bytes and cuts complete responses (head + Content-Length body).
function reader(sock) {
  let buf = Buffer.alloc(0);
  let ended = false;
  let wake = null;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (wake) wake();
  });
  sock.on('close', () => {
    ended = true;
    if (wake) wake();
  });
  sock.on('error', () => {});
  function cut() {
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0) return null;
    const head = buf.subarray(0, he).toString('latin1');
    const lines = head.split('\r\n');
    const [, code] = lines[0].split(' ');
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(code);
    const len = status === 100 || headers['x-head'] ? 0 : Number(headers['content-length'] ?? 0);
    if (buf.length < he + 4 + len) return null;
    const body = buf.subarray(he + 4, he + 4 + len).toString('latin1');
    buf = buf.subarray(he + 4 + len);
    return { status, headers, body, head };
  }
  return {
    /** The next n responses (rejects on timeout or when the socket closes first). */
    async take(n, timeoutMs = 5000, headOnly = false) {
      const out = [];
      const deadline = Date.now() + timeoutMs;
      while (out.length < n) {
        const r = headOnly ? cutHead() : cut();
        if (r) {
          out.push(r);
          continue;
        }
        if (ended) throw new Error(`socket closed after ${out.length} of ${n} responses (left: ${JSON.stringify(buf.toString('latin1'))})`);
        if (Date.now() > deadline) throw new Error(`timed out after ${out.length} of ${n} responses`);
        await new Promise((r2) => {
          wake = r2;
          setTimeout(r2, 50);
        });
        wake = null;
      }
      return out;
    },
    async closed(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!ended) {
        if (Date.now() > deadline) throw new Error('socket still open');
        await new Promise((r2) => {
          wake = r2;
          setTimeout(r2, 50);
        });
        wake = null;
      }
      return buf.toString('latin1');
    },
    get isClosed() {
      return ended;
    },
  };
  function cutHead() {
    const he = buf.indexOf('\r\n\r\n');
    if (he < 0) return null;
    const head = buf.subarray(0, he).toString('latin1');
    buf = buf.subarray(he + 4);
    return { status: Number(head.split(' ')[1]), head };
  }
}

const GET = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';

test('http: GET, keep-alive (two requests, one connection), 13-byte body, Date and Content-Length', async () => {
  await withServer({}, async (port) => {
    const s = await dial(port);
    const rd = reader(s);
    s.write(GET);
    const [a] = await rd.take(1);
    assert.strictEqual(a.status, 200);
    assert.strictEqual(a.body, 'Hello, World!');
    assert.strictEqual(a.headers['content-length'], '13');
    assert.match(a.headers.date, /GMT$/);
    assert.strictEqual(a.headers.connection, undefined);
    s.write('GET /json HTTP/1.1\r\nHost: a\r\n\r\n');
    const [b] = await rd.take(1);
    assert.deepStrictEqual(JSON.parse(b.body), { message: 'Hello, World!' });
    assert.strictEqual(rd.isClosed, false);
    s.destroy();
  });
});

test('http: pipelined requests in one write are answered in order', async () => {
  await withServer({}, async (port) => {
    const s = await dial(port);
    const rd = reader(s);
    const reqs = [];
    for (let i = 0; i < 16; i++) reqs.push(i % 2 ? GET : `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: ${String(i).length}\r\n\r\n${i}`);
    s.write(reqs.join(''));
    const rs = await rd.take(16);
    rs.forEach((r, i) => assert.strictEqual(r.body, i % 2 ? 'Hello, World!' : String(i)));
    s.destroy();
  });
});

test('http: chunked request bodies (several chunks, extensions, trailers; one chunk; empty)', async () => {
  await withServer({}, async (port) => {
    const s = await dial(port);
    const rd = reader(s);
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n');
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    const rs = await rd.take(3);
    assert.deepStrictEqual(rs.map((r) => r.body), ['hello, chunked!', 'abc', '']);
    s.destroy();
  });
});

test('http: Connection: close gets Connection: close and the connection closes; later pipelined requests are not answered', async () => {
  await withServer({}, async (port) => {
    const s = await dial(port);
    const rd = reader(s);
    s.write(`GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n${GET}`);
    const [r] = await rd.take(1);
    assert.strictEqual(r.headers.connection, 'close');
    assert.strictEqual(await rd.closed(), '');
  });
});

test('http: HTTP/1.0 closes by default, keeps alive with Connection: keep-alive', async () => {
  await withServer({}, async (port) => {
    let s = await dial(port);
    let rd = reader(s);
    s.write('GET / HTTP/1.0\r\n\r\n');
    let [r] = await rd.take(1);
    assert.strictEqual(r.body, 'Hello, World!');
    await rd.closed();
    s = await dial(port);
    rd = reader(s);
    s.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    [r] = await rd.take(1);
    assert.strictEqual(r.headers.connection, 'keep-alive');
    s.write('GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    [r] = await rd.take(1);
    assert.strictEqual(r.status, 200);
    s.destroy();
  });
});

const BAD = [
  ['no version', 'GET /\r\nHost: a\r\n\r\n'],
  ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n'],
  ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n'],
  ['no colon', 'GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n'],
  ['bare CR', 'GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n'],
  ['control char in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n'],
  ['missing Host (1.1)', 'GET / HTTP/1.1\r\n\r\n'],
  ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['Content-Length not a number', 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n1'],
  ['two different Content-Lengths', 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12'],
  ['Content-Length and chunked', 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['bad chunk size', 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ['chunk without CRLF after data', 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n'],
  ['binary garbage', '\x00\x01\x02\x03 garbage\r\n\r\n'],
];

for (const [what, raw] of BAD) {
  test(`http: 400 and close on a malformed request (${what})`, async () => {
    await withServer({}, async (port) => {
      const s = await dial(port);
      const rd = reader(s);
      s.write(raw);
      const [r] = await rd.take(1);
      assert.strictEqual(r.status, 400, r.head);
      assert.strictEqual(r.headers.connection, 'close');
      await rd.closed();
    });
  });
}

test('http: 505 for HTTP/2.0, 501 for an unknown transfer coding, 417 for an unknown expectation', async () => {
  await withServer({}, async (port) => {
    for (const [raw, code] of [
      ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
      ['POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
      ['POST /echo HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx', 417],
    ]) {
      const s = await dial(port);
      const rd = reader(s);
      s.write(raw);
      const [r] = await rd.take(1);
      assert.strictEqual(r.status, code, raw);
      await rd.closed();
    }
  });
});

test('http: 431 on headers over maxHeaderBytes (complete or still arriving) and on too many headers', async () => {
  await withServer({}, async (port) => {
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(2000)}\r\n\r\n`;
    const endless = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(2000)}`; // no end of head yet
    let many = 'GET / HTTP/1.1\r\nHost: a\r\n';
    for (let i = 0; i < 30; i++) many += `X-${i}: ${i}\r\n`;
    many += '\r\n';
    assert.ok(Buffer.byteLength(many) < LIMITS.maxHeaderBytes);
    for (const raw of [big, endless, many]) {
      const s = await dial(port);
      const rd = reader(s);
      s.write(raw);
      const [r] = await rd.take(1);
      assert.strictEqual(r.status, 431);
      await rd.closed();
    }
    // Just under the limit is fine.
    const s = await dial(port);
    const rd = reader(s);
    const ok = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(900)}\r\n\r\n`;
    assert.ok(Buffer.byteLength(ok) <= LIMITS.maxHeaderBytes);
    s.write(ok);
    assert.strictEqual((await rd.take(1))[0].status, 200);
    s.destroy();
  });
});

test('http: 413 on a Content-Length over maxBodyBytes (before the body arrives) and on a chunked body over it', async () => {
  await withServer({}, async (port) => {
    let s = await dial(port);
    let rd = reader(s);
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n');
    assert.strictEqual((await rd.take(1))[0].status, 413);
    await rd.closed();
    s = await dial(port);
    rd = reader(s);
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n' + 'y'.repeat(2048) + '\r\n800\r\n' + 'y'.repeat(2048) + '\r\n1\r\n');
    assert.strictEqual((await rd.take(1))[0].status, 413);
    await rd.closed();
    // exactly maxBodyBytes is accepted
    s = await dial(port);
    rd = reader(s);
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n\r\n' + 'z'.repeat(4096));
    const [r] = await rd.take(1);
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.body.length, 4096);
    s.destroy();
  });
});

test('http: router: 404, 405 with Allow, HEAD of a GET route has the length and no body', async () => {
  await withServer({}, async (port) => {
    const s = await dial(port);
    const rd = reader(s);
    s.write('GET /missing HTTP/1.1\r\nHost: a\r\n\r\nDELETE /echo HTTP/1.1\r\nHost: a\r\n\r\n');
    const [a, b] = await rd.take(2);
    assert.strictEqual(a.status, 404);
    assert.strictEqual(b.status, 405);
    assert.strictEqual(b.headers.allow, 'POST');
    s.write('HEAD / HTTP/1.1\r\nHost: a\r\n\r\n' + GET);
    const [h] = await rd.take(1, 5000, true);
    assert.strictEqual(h.status, 200);
    assert.match(h.head, /Content-Length: 13/);
    const [g] = await rd.take(1);
    assert.strictEqual(g.body, 'Hello, World!'); // the HEAD sent no body: the next response follows at once
    s.write('GET /headers?x=1 HTTP/1.1\r\nHost: a\r\nX-Test:  spaced value  \r\n\r\n');
    const [hd] = await rd.take(1);
    assert.match(hd.body, /^x-test: spaced value$/m);
    s.destroy();
  });
});

test('http: Expect: 100-continue gets 100 Continue before the body', async () => {
  await withServer({}, async (port) => {
    const s = await dial(port);
    const rd = reader(s);
    s.write('POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    const [c] = await rd.take(1, 5000, true);
    assert.strictEqual(c.status, 100);
    s.write('body');
    const [r] = await rd.take(1);
    assert.strictEqual(r.body, 'body');
    s.destroy();
  });
});

test('http: request timeout (408 to a request still arriving) and idle timeout (close)', async () => {
  await withServer({ requestTimeout: 300, idleTimeout: 400 }, async (port) => {
    let s = await dial(port);
    let rd = reader(s);
    const t0 = Date.now();
    s.write('GET / HTTP/1.1\r\nHost: a\r\n'); // never finished
    const [r] = await rd.take(1, 3000);
    assert.strictEqual(r.status, 408);
    assert.ok(Date.now() - t0 >= 250, `408 after ${Date.now() - t0} ms`);
    await rd.closed();
    // a slowloris: one byte at a time, each in time, the whole not
    s = await dial(port);
    rd = reader(s);
    const slow = 'GET / HTTP/1.1\r\nHost: a\r\nX: 1234567890\r\n\r\n';
    let i = 0;
    const iv = setInterval(() => i < slow.length && !s.destroyed && s.write(slow[i++]), 50);
    try {
      const [sl] = await rd.take(1, 3000);
      assert.strictEqual(sl.status, 408);
    } finally {
      clearInterval(iv);
    }
    // idle keep-alive connection: closed without a response
    s = await dial(port);
    rd = reader(s);
    s.write(GET);
    await rd.take(1);
    const t1 = Date.now();
    assert.strictEqual(await rd.closed(3000), '');
    assert.ok(Date.now() - t1 >= 300, `idle close after ${Date.now() - t1} ms`);
  });
});

// The same bytes, split at every boundary: the parser alone (deterministic)...
const SPLIT_CASES = [
  'GET /a?b=c HTTP/1.1\r\nHost: example\r\nX-A: 1\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world',
  'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nT: 1\r\n\r\n',
  '\r\nGET / HTTP/1.0\nConnection: keep-alive\n\n',
];

test('http parser: every case split at every byte: NEED_MORE before the last byte, the same request after', () => {
  const lim = { ...LIMITS };
  for (const raw of SPLIT_CASES) {
    const full = Buffer.from(raw, 'latin1');
    const ref = new HttpRequest(lim);
    assert.strictEqual(parseRequest(full, 0, full.length, ref, { scan: 0 }, lim), full.length, raw);
    const want = { m: ref.method, t: ref.target, p: ref.path, q: ref.query, ka: ref.keepAlive, body: ref.body.toString('latin1'), h: ref.headers() };
    for (let cut = 0; cut <= full.length; cut++) {
      // incremental: the first `cut` bytes, then everything, with the same state
      const st = { scan: 0 };
      const req = new HttpRequest(lim);
      const part = Buffer.from(full.subarray(0, cut));
      const r1 = parseRequest(part, 0, part.length, req, st, lim);
      if (cut < full.length) assert.strictEqual(r1, NEED_MORE, `${JSON.stringify(raw)} cut at ${cut}`);
      const r2 = parseRequest(full, 0, full.length, req, st, lim);
      assert.strictEqual(r2, full.length, `${JSON.stringify(raw)} cut at ${cut}`);
      assert.deepStrictEqual({ m: req.method, t: req.target, p: req.path, q: req.query, ka: req.keepAlive, body: req.body.toString('latin1'), h: req.headers() }, want);
    }
    // byte by byte with one state (the resumable scan)
    const st = { scan: 0 };
    const req = new HttpRequest(lim);
    for (let n = 1; n < full.length; n++) assert.strictEqual(parseRequest(full.subarray(0, n), 0, n, req, st, lim), NEED_MORE);
    assert.strictEqual(parseRequest(full, 0, full.length, req, st, lim), full.length);
  }
});

// ...and the server over a socket: part 1, a pause so it arrives alone, part 2.
test('http: pipelined requests split at every byte boundary over a socket get the same responses', async () => {
  await withServer({}, async (port) => {
    const raw = Buffer.from(SPLIT_CASES.slice(0, 3).join(''), 'latin1');
    const s = await dial(port);
    const rd = reader(s);
    s.write(raw);
    const want = (await rd.take(3)).map((r) => [r.status, r.body]);
    assert.deepStrictEqual(want, [[404, 'Not Found'], [200, 'hello world'], [200, 'abcdefg']]);
    for (let cut = 1; cut < raw.length; cut++) {
      s.write(raw.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 2));
      s.write(raw.subarray(cut));
      const got = (await rd.take(3)).map((r) => [r.status, r.body]);
      assert.deepStrictEqual(got, want, `cut at ${cut}`);
    }
    s.destroy();
  });
});

test('http: the example entry point with --loops 2 answers on every loop', async () => {
  const { spawn } = require('node:child_process');
  const p = spawn(process.execPath, [path.join(EX, 'main.js'), '--port', '0', '--loops', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 15000);
      p.stdout.on('data', (d) => {
        out += d;
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      p.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    for (let i = 0; i < 4; i++) {
      const s = await dial(port);
      const rd = reader(s);
      s.write(GET + GET);
      const rs = await rd.take(2);
      assert.deepStrictEqual(rs.map((r) => r.body), ['Hello, World!', 'Hello, World!']);
      s.destroy();
    }
  } finally {
    p.kill('SIGKILL');
  }
});
