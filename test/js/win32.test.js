'use strict';
// Windows only (issue 13; run by `npm run test:win` under Wine): the AFD backend,
// what Windows cannot do and says so, and Winsock errors under POSIX code names.
const { test } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const net = require('node:net');
const { ringnet, LOOPBACK, connect, readBytes, sha256, echo } = require('./helpers');
const { fixture } = require('./multi-helpers');

const skip = process.platform !== 'win32' && 'Windows only (npm run test:win runs it under Wine)';

test("every loop runs on the 'afd' backend, whatever backend is asked for", { skip }, async () => {
  for (const backend of ['epoll', undefined]) {
    const engine = await ringnet.serve(echo, LOOPBACK, backend ? { backend } : {});
    try {
      assert.strictEqual(engine.backend, 'afd');
      const s = await connect(engine);
      const data = crypto.randomBytes(300000);
      const reply = readBytes(s, data.length);
      s.write(data);
      assert.strictEqual(sha256(await reply), sha256(data));
      s.destroy();
    } finally {
      await engine.stop();
    }
  }
});

test("backend: 'io_uring' is refused with a reason", { skip }, async () => {
  await assert.rejects(ringnet.serve(echo, LOOPBACK, { backend: 'io_uring' }), (e) => {
    assert.strictEqual(e.code, 'ERR_RINGNET_BACKEND_UNAVAILABLE');
    assert.match(e.message, /io_uring/);
    return true;
  });
});

test('reusePort is refused with ENOTSUP and a message naming the option', { skip }, async () => {
  await assert.rejects(ringnet.serve(echo, LOOPBACK, { reusePort: true }), (e) => {
    assert.strictEqual(e.code, 'ENOTSUP');
    assert.match(e.message, /SO_REUSEPORT/);
    return true;
  });
  await assert.rejects(ringnet.serve(fixture('report.js'), LOOPBACK, { loops: 2, reusePort: true }), (e) => e.code === 'ENOTSUP');
});

test('a port in use is EADDRINUSE (Winsock WSAEADDRINUSE), with its text', { skip }, async () => {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(ringnet.serve(echo, `tcp://127.0.0.1:${srv.address().port}`), (e) => {
      assert.strictEqual(e.code, 'EADDRINUSE');
      assert.match(e.message, /Address already in use/);
      return true;
    });
  } finally {
    srv.close();
  }
});

test('a reset peer closes the connection with ECONNRESET', { skip }, async () => {
  const closes = [];
  const engine = await ringnet.serve({ onClose: (_c, err) => closes.push(err) }, LOOPBACK);
  try {
    const s = await connect(engine);
    await new Promise((r) => setTimeout(r, 100));
    s.resetAndDestroy();
    const t0 = Date.now();
    while (closes.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.strictEqual(closes.length, 1);
    assert.strictEqual(closes[0] && closes[0].code, 'ECONNRESET');
  } finally {
    await engine.stop();
  }
});

test("tls:// runs on node.exe's own OpenSSL: a node:tls client, TLS 1.3 and 1.2, 256 KiB echoed", { skip }, async () => {
  const tls = require('node:tls');
  const { makeCerts } = require('./tls-helpers'); // test-win.js made them on the Linux side
  assert.strictEqual(ringnet.native.tlsUnavailable(), null);
  const certs = makeCerts();
  const engine = await ringnet.serve(echo, 'tls://127.0.0.1:0', { tls: { ...certs.server, ALPNProtocols: ['h2'] } });
  try {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2']) {
      const s = await new Promise((resolve, reject) => {
        const t = tls.connect({ port: engine.address.port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca, maxVersion, ALPNProtocols: ['h2'] }, () => resolve(t));
        t.once('error', reject);
      });
      try {
        assert.strictEqual(s.getProtocol(), maxVersion);
        assert.strictEqual(s.alpnProtocol, 'h2');
        const data = crypto.randomBytes(256 << 10);
        const got = readBytes(s, data.length);
        s.write(data);
        assert.strictEqual(sha256(await got), sha256(data));
      } finally {
        s.destroy();
      }
    }
  } finally {
    await engine.stop();
  }
});

test('ringnet bench says what it cannot run on Windows; ringnet echo --help works', { skip }, () => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
  const b = spawnSync(process.execPath, [cli, 'bench', '--quick'], { encoding: 'utf8', timeout: 30000 });
  assert.strictEqual(b.status, 2);
  assert.match(b.stderr, /loadgen\.c.*no Windows build yet/s);
  const h = spawnSync(process.execPath, [cli, 'echo', '--help'], { encoding: 'utf8', timeout: 30000 });
  assert.strictEqual(h.status, 0);
  assert.match(h.stdout, /usage: ringnet echo/);
});

test('unix:// is refused with EAFNOSUPPORT (serve and dial): Wine 8.0 has no AF_UNIX (test/win/unix_probe.cc)', { skip }, async () => {
  const p = `unix://${require('node:os').tmpdir().replace(/\\/g, '/')}/ringnet-win-${process.pid}.sock`;
  await assert.rejects(ringnet.serve(echo, p), (e) => {
    assert.strictEqual(e.code, 'EAFNOSUPPORT');
    assert.match(e.message, /unix/);
    return true;
  });
  const client = await ringnet.createClient({});
  try {
    await assert.rejects(client.dial(p, { timeout: 2000 }), (e) => e.code === 'EAFNOSUPPORT');
  } finally {
    await client.stop();
  }
});

test('udp:// is refused with ERR_RINGNET_UNSUPPORTED (no datagram path on the AFD backend yet)', { skip }, async () => {
  const e = await ringnet.serve({ onDatagram() {} }, 'udp://127.0.0.1:0').then(
    (x) => x,
    (err) => err,
  );
  if (typeof e.stop === 'function') {
    await e.stop();
    assert.fail('serve(udp://) resolved on Windows');
  }
  assert.strictEqual(e.code, 'ERR_RINGNET_UNSUPPORTED');
  assert.match(e.message, /udp:\/\/ is not supported/);
});
