'use strict';
// TLS on dial / createClient (issue 11): a ringnet client against node:tls servers,
// `openssl s_server` and ringnet's own tls:// listener; verification (CA, roots,
// host name, expiry, self-signed) with node:tls's codes, ALPN, mTLS, session
// resumption, handshake timeout and failures; on epoll and io_uring.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const tls = require('node:tls');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { ringnet, until, fdCount } = require('./helpers');
const { backendOk, backendName, makeCerts, tlsEchoServer: nodeServer } = require('./tls-helpers');

const certs = makeCerts();
const fp = (pem) => new crypto.X509Certificate(pem).fingerprint256;

// A client engine whose handler collects what each dialed connection receives.
async function client(opts = {}) {
  const got = new Map();
  const closes = [];
  const engine = await ringnet.createClient(
    {
      onTraffic(c) {
        const b = c.next();
        got.set(c, Buffer.concat([got.get(c) ?? Buffer.alloc(0), b]));
      },
      onClose(c, err) {
        closes.push(err ? err.code : null);
      },
    },
    opts,
  );
  const received = (c) => got.get(c) ?? Buffer.alloc(0);
  return { engine, received, closes };
}

function closeServer(server) {
  return new Promise((r) => server.close(() => r()));
}

// node:tls's own verdict on the same server and options: the code Node gives.
function nodeCode(port, opts) {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', ...opts });
    s.once('secureConnect', () => {
      s.destroy();
      resolve(null);
    });
    s.once('error', (e) => {
      s.destroy();
      resolve(e.code);
    });
  });
}

async function echo(c, received, payload) {
  c.write(payload);
  await until(() => received(c).length >= payload.length, 10000, 'echo');
  return received(c).subarray(0, payload.length);
}

for (const backend of ['epoll', 'io_uring']) {
  test(`${backend}: ringnet client -> node:tls server: TLS 1.3 and 1.2, ALPN, peer certificate, 256 KiB echo`, async (t) => {
    if (!(await backendOk(backend))) return t.skip('io_uring unavailable here');
    const { server, port } = await nodeServer({ ...certs.server, ALPNProtocols: ['h2', 'http/1.1'] });
    const { engine, received } = await client({ backend });
    try {
      assert.equal(engine.backend, backendName(backend));
      for (const [maxVersion, alpn] of [['TLSv1.3', 'h2'], ['TLSv1.2', 'http/1.1']]) {
        const c = await engine.dial(`tls://localhost:${port}`, { ca: certs.ca, maxVersion, ALPNProtocols: [alpn], timeout: 5000 });
        assert.equal(c.encrypted, true);
        assert.equal(c.dialed, true);
        assert.equal(c.tlsVersion, maxVersion);
        assert.equal(c.alpnProtocol, alpn);
        assert.equal(c.servername, 'localhost');
        assert.equal(c.authorized, true);
        assert.equal(c.peerCertificate.fingerprint256, fp(certs.server.cert));
        assert.equal(c.peerCertificate.subject.CN, 'localhost');
        const big = crypto.randomBytes(256 * 1024);
        assert.ok((await echo(c, received, big)).equals(big), 'echoed bytes differ');
        c.close();
      }
    } finally {
      await engine.stop({ timeout: 1000 });
      await closeServer(server);
    }
  });

  test(`${backend}: ringnet client -> ringnet tls server: echo, session resumption (1.3 and 1.2), mTLS`, async (t) => {
    if (!(await backendOk(backend))) return t.skip('io_uring unavailable here');
    const opened = [];
    const srv = await ringnet.serve(
      {
        onOpen(c) {
          opened.push({ reused: c.tlsSessionReused, peer: c.peerCertificate, authorized: c.authorized });
        },
        onTraffic(c) {
          c.write(c.next());
        },
      },
      'tls://127.0.0.1:0',
      { backend, tls: { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: false } },
    );
    const { engine, received } = await client({ backend, tls: { ca: certs.ca } });
    try {
      for (const maxVersion of ['TLSv1.3', 'TLSv1.2']) {
        const c1 = await engine.dial(`tls://localhost:${srv.address.port}`, { maxVersion, ...certs.client });
        assert.equal(c1.tlsSessionReused, false);
        assert.ok((await echo(c1, received, Buffer.from('hello'))).equals(Buffer.from('hello')));
        // TLS 1.3: the ticket came after the handshake; the echo brought it.
        await until(() => c1.tlsSession !== null, 5000, 'a resumable session');
        const session = c1.tlsSession;
        assert.ok(Buffer.isBuffer(session) && session.length > 32);
        c1.close();
        const c2 = await engine.dial(`tls://localhost:${srv.address.port}`, { maxVersion, session, ...certs.client });
        assert.equal(c2.tlsSessionReused, true, `${maxVersion}: not resumed`);
        assert.equal(c2.tlsVersion, maxVersion);
        assert.ok((await echo(c2, received, Buffer.from('again'))).equals(Buffer.from('again')));
        c2.close();
      }
      await until(() => opened.length === 4, 5000, 'server opens');
      assert.deepEqual(opened.map((o) => o.reused), [false, true, false, true]);
      assert.equal(opened[0].authorized, true);
      assert.equal(opened[0].peer.subject.CN, 'ringnet-client');
      // A garbled session is ignored: a full handshake.
      const c3 = await engine.dial(`tls://localhost:${srv.address.port}`, { session: Buffer.from('not a session') });
      assert.equal(c3.tlsSessionReused, false);
      assert.equal(c3.tlsSession === null || Buffer.isBuffer(c3.tlsSession), true);
      c3.close();
    } finally {
      await engine.stop({ timeout: 1000 });
      await srv.stop({ timeout: 1000 });
    }
  });

  test(`${backend}: handshake timeout on the dial's deadline, a server closing mid-handshake, garbage instead of a ServerHello`, async (t) => {
    if (!(await backendOk(backend))) return t.skip('io_uring unavailable here');
    const socks = new Set();
    let mode = 'silent';
    const plain = net.createServer((s) => {
      socks.add(s);
      s.on('error', () => {});
      s.once('data', () => {
        if (mode === 'close') s.destroy();
        else if (mode === 'garbage') s.write('HTTP/1.1 400 Bad Request\r\n\r\n');
      });
    });
    await new Promise((r) => plain.listen(0, '127.0.0.1', r));
    const port = plain.address().port;
    const before = fdCount();
    const { engine } = await client({ backend });
    try {
      const t0 = Date.now();
      await assert.rejects(engine.dial(`tls://127.0.0.1:${port}`, { timeout: 300, rejectUnauthorized: false }), { code: 'ETIMEDOUT' });
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 3000, `timed out after ${took} ms`);
      mode = 'close';
      await assert.rejects(engine.dial(`tls://127.0.0.1:${port}`, { timeout: 3000 }), { code: 'ECONNRESET' });
      mode = 'garbage';
      await assert.rejects(engine.dial(`tls://127.0.0.1:${port}`, { timeout: 3000 }), (e) => /^ERR_SSL_/.test(e.code) && /TLS/.test(e.message));
      assert.equal(engine.countConnections(), 0);
    } finally {
      await engine.stop({ timeout: 1000 });
      for (const s of socks) s.destroy();
      await closeServer(plain);
    }
    if (before >= 0) await until(() => fdCount() <= before + 1, 3000, 'fds closed');
  });
}

test('verification: wrong host, self-signed, expired, unknown CA (default roots) refused with the codes node:tls gives; rejectUnauthorized: false opens', async () => {
  const servers = [];
  const { engine } = await client();
  try {
    const cases = [
      // [server pair, dial options, expected code]
      [certs.server, { ca: certs.ca, servername: 'other.example' }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
      [certs.other, { ca: certs.ca }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
      [certs.self, {}, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
      [certs.expired, { ca: certs.ca }, 'CERT_HAS_EXPIRED'],
      [certs.server, {}, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'], // the test CA is not among Node's roots
    ];
    for (const [pair, opts, want] of cases) {
      const { server, port } = await nodeServer(pair);
      servers.push(server);
      const host = opts.servername ? '127.0.0.1' : 'localhost';
      assert.equal(await nodeCode(port, { servername: opts.servername ?? 'localhost', ca: opts.ca }), want, 'node:tls itself');
      await assert.rejects(engine.dial(`tls://${host}:${port}`, { ...opts, timeout: 5000 }), (e) => {
        assert.equal(e.code, want);
        assert.match(e.message, new RegExp(`dial tls://${host}:${port}`));
        if (want === 'ERR_TLS_CERT_ALTNAME_INVALID') assert.match(e.message, /is not in the cert's altnames: DNS:(localhost|other\.example)/);
        return true;
      });
      const c = await engine.dial(`tls://${host}:${port}`, { ...opts, rejectUnauthorized: false, timeout: 5000 });
      assert.equal(c.authorized, false);
      assert.equal(c.authorizationError, want);
      c.close();
    }
    // By IP: the certificate names 127.0.0.1, and no SNI is sent.
    const { server, port } = await nodeServer({ ...certs.server, SNICallback: (name, cb) => cb(new Error(`SNI ${name} sent for an IP`)) });
    servers.push(server);
    const c = await engine.dial(`tls://127.0.0.1:${port}`, { ca: certs.ca, timeout: 5000 });
    assert.equal(c.authorized, true);
    assert.equal(c.servername, false);
    c.close();
    assert.equal(engine.countConnections() <= 1, true);
  } finally {
    await engine.stop({ timeout: 1000 });
    for (const s of servers) await closeServer(s);
  }
});

test('mTLS: a ringnet client with a certificate the server trusts; without one a TLS 1.2 dial is refused', async () => {
  let peer;
  const { server, port } = await new Promise((resolve) => {
    const server = tls.createServer({ ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (s) => {
      peer = s.getPeerCertificate();
      s.on('data', (d) => s.write(d));
      s.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
  });
  const { engine, received } = await client();
  try {
    const c = await engine.dial(`tls://localhost:${port}`, { ca: certs.ca, ...certs.client, timeout: 5000 });
    assert.ok((await echo(c, received, Buffer.from('mtls'))).equals(Buffer.from('mtls')));
    assert.equal(peer.subject.CN, 'ringnet-client');
    c.close();
    await assert.rejects(engine.dial(`tls://localhost:${port}`, { ca: certs.ca, maxVersion: 'TLSv1.2', timeout: 5000 }), (e) => /^ERR_SSL_/.test(e.code));
  } finally {
    await engine.stop({ timeout: 1000 });
    await closeServer(server);
  }
});

test('openssl s_server: a ringnet client talks to it both ways (TLS 1.3, ALPN)', async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const p = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', `${certs.dir}/server.pem`, '-key', `${certs.dir}/server.key`,
    '-alpn', 'h2', '-naccept', '1'], { cwd: certs.dir });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const { engine, received } = await client();
  try {
    await until(() => /ACCEPT/.test(out), 10000, `s_server up: ${out}`);
    const c = await engine.dial(`tls://localhost:${port}`, { ca: certs.ca, ALPNProtocols: ['h2'], timeout: 5000 });
    assert.equal(c.tlsVersion, 'TLSv1.3');
    assert.equal(c.alpnProtocol, 'h2');
    c.write('from-ringnet\n');
    await until(() => out.includes('from-ringnet'), 5000, `s_server to print what ringnet sent (s_server: ${out})`);
    p.stdin.write('from-s_server\n');
    await until(() => received(c).includes('from-s_server'), 5000, `ringnet to get what s_server sent (s_server: ${out})`);
    c.close();
  } finally {
    await engine.stop({ timeout: 1000 });
    p.kill('SIGKILL');
  }
});

test('dial options: TLS options on a tcp:// dial, bad PEM, bad types: codes, nothing dialed', async () => {
  const { engine } = await client();
  try {
    await assert.rejects(engine.dial('tcp://127.0.0.1:1', { servername: 'x' }), { code: 'ERR_RINGNET_INVALID_OPTION' });
    await assert.rejects(engine.dial('tls://127.0.0.1:1', { ca: 'not a pem' }), (e) => /^ERR_OSSL_/.test(e.code));
    await assert.rejects(engine.dial('tls://127.0.0.1:1', { rejectUnauthorized: 'no' }), { code: 'ERR_RINGNET_INVALID_OPTION' });
    await assert.rejects(engine.dial('tls://127.0.0.1:1', { cert: certs.client.cert }), { code: 'ERR_RINGNET_INVALID_OPTION' });
    await assert.rejects(engine.dial('tls://127.0.0.1:1', { session: 'abc' }), { code: 'ERR_RINGNET_INVALID_OPTION' });
    assert.equal(engine.countConnections(), 0);
  } finally {
    await engine.stop();
  }
  await assert.rejects(ringnet.createClient({}, { tls: 5 }), { code: 'ERR_RINGNET_INVALID_OPTION' });
});
