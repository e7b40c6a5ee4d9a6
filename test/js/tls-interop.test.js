'use strict';
// TLS terminated in the native loop (issue 11), against real clients: node:tls and
// `openssl s_client`; on epoll and io_uring. Certificates are made at test time.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const crypto = require('node:crypto');
const { ringnet, until, readBytes } = require('./helpers');
const { backendOk, backendName, makeCerts, tlsConnect, refusedCode, sClient } = require('./tls-helpers');

const certs = makeCerts();
const ADDR = 'tls://127.0.0.1:0';


// Records every callback, echoes traffic ("bye" makes the server reply and close).
function recorder() {
  const r = { opens: [], closes: [], tlsErrors: [], ends: 0 };
  r.handler = {
    onOpen(c) {
      r.opens.push({
        version: c.tlsVersion, alpn: c.alpnProtocol, servername: c.servername, encrypted: c.encrypted,
        authorized: c.authorized, authorizationError: c.authorizationError, peer: c.peerCertificate, reused: c.tlsSessionReused,
      });
    },
    onTraffic(c) {
      const b = c.next();
      if (b.length < 64 && b.includes('bye')) {
        c.write('bye!\n');
        c.close();
      } else {
        c.write(b);
      }
    },
    onEnd() {
      r.ends++;
    },
    onClose(c, err) {
      r.closes.push(err ? err.code : null);
    },
    onTlsError(err) {
      r.tlsErrors.push(err.code);
    },
  };
  return r;
}

async function withServer(tlsOpts, fn, opts = {}) {
  const r = recorder();
  const engine = await ringnet.serve(r.handler, ADDR, { tls: tlsOpts, ...opts });
  try {
    await fn(engine, r);
  } finally {
    await engine.stop({ timeout: 1000 });
  }
}

function fingerprint(pem) {
  return new crypto.X509Certificate(pem).fingerprint256;
}

async function echoOnce(sock, payload) {
  const got = readBytes(sock, payload.length);
  sock.write(payload);
  return got;
}

for (const backend of ['epoll', 'io_uring']) {
  test(`${backend}: node:tls client, TLS 1.3 and 1.2, ALPN, 1 MiB echo`, async (t) => {
    if (!(await backendOk(backend))) return t.skip('io_uring unavailable here');
    await withServer({ ...certs.server, ALPNProtocols: ['h2', 'http/1.1'] }, async (engine, r) => {
      assert.match(engine.addr, /^tls:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(engine.backend, backendName(backend));
      for (const [maxVersion, want, alpn] of [['TLSv1.3', 'TLSv1.3', 'h2'], ['TLSv1.2', 'TLSv1.2', 'http/1.1']]) {
        const s = await tlsConnect(engine, { ca: certs.ca, maxVersion, ALPNProtocols: [alpn] });
        assert.equal(s.getProtocol(), want);
        assert.equal(s.alpnProtocol, alpn);
        assert.equal(s.getPeerCertificate().fingerprint256, fingerprint(certs.server.cert));
        const big = crypto.randomBytes(1 << 20);
        const back = await echoOnce(s, big);
        assert.ok(back.equals(big), 'echoed bytes differ');
        s.end();
        await until(() => r.closes.length === r.opens.length, 5000, 'server close');
        const o = r.opens.at(-1);
        assert.equal(o.version, want);
        assert.equal(o.alpn, alpn);
        assert.equal(o.servername, 'localhost');
        assert.equal(o.encrypted, true);
        assert.equal(o.peer, null);
      }
      assert.deepEqual(r.closes, [null, null]);
      assert.ok(engine.stats()[0].tlsHandshakes >= 2);
    }, { backend });
  });

  test(`${backend}: openssl s_client, 1.2 and 1.3, session resumption, close_notify from the server`, async (t) => {
    if (!(await backendOk(backend))) return t.skip('io_uring unavailable here');
    await withServer({ ...certs.server, ALPNProtocols: ['h2', 'http/1.1'] }, async (engine, r) => {
      const base = ['-CAfile', certs.caPath, '-servername', 'localhost', '-verify_return_error', '-msg'];
      for (const v of ['-tls1_3', '-tls1_2']) {
        const sess = `${certs.dir}/sess${v}${backend}.pem`;
        const first = await sClient(engine, [...base, v, '-alpn', 'h2', '-sess_out', sess], 'bye\n');
        assert.match(first.out, /bye!/);
        assert.match(first.out, /New, TLSv1\.[23]/);
        assert.match(first.out, /ALPN protocol: h2/);
        assert.match(first.out, /Verify return code: 0 \(ok\)/);
        // The server's close (c.close()) sent close_notify before its FIN.
        assert.match(first.out, /<<< TLS 1\.[23], Alert \[length 0002\], warning close_notify/);
        const again = await sClient(engine, [...base, v, '-sess_in', sess], 'bye\n');
        assert.match(again.out, /Reused, TLSv1\.[23]/, again.out);
        assert.match(again.out, /bye!/);
      }
      await until(() => r.opens.length === 4, 5000, 'opens');
      assert.deepEqual(r.opens.map((o) => o.reused), [false, true, false, true]);
    }, { backend });
  });
}

test('SNI: two certificates by server name', async () => {
  await withServer({ ...certs.server, SNIContexts: { 'other.example': certs.other } }, async (engine, r) => {
    for (const [name, pem] of [['other.example', certs.other.cert], ['localhost', certs.server.cert], [undefined, certs.server.cert]]) {
      const s = await tlsConnect(engine, { ca: certs.ca, servername: name, checkServerIdentity: () => undefined });
      assert.equal(s.getPeerCertificate().fingerprint256, fingerprint(pem));
      s.resume(); // flowing, so 'close' comes after the server's reply and FIN
      s.end('bye');
      await new Promise((res) => s.once('close', res));
    }
    await until(() => r.opens.length === 3);
    assert.deepEqual(r.opens.map((o) => o.servername), ['other.example', 'localhost', false]);
  });
});

test('mTLS: a client certificate the CA signed is accepted, none or a self-signed one refused', async () => {
  await withServer({ ...certs.server, ca: certs.ca, requestCert: true }, async (engine, r) => {
    const ok = await tlsConnect(engine, { ca: certs.ca, ...certs.client });
    const back = await echoOnce(ok, Buffer.from('hello'));
    assert.equal(back.toString(), 'hello');
    const o = r.opens[0];
    assert.equal(o.authorized, true);
    assert.equal(o.peer.subject.CN, 'ringnet-client');
    assert.equal(o.peer.issuer.CN, 'ringnet-test-ca');
    assert.equal(o.peer.fingerprint256, fingerprint(certs.client.cert));
    assert.match(o.peer.valid_to, /GMT$/);
    ok.end();

    for (const [client, code] of [[{}, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'], [certs.selfclient, 'DEPTH_ZERO_SELF_SIGNED_CERT']]) {
      assert.equal(await refusedCode(engine, r, { ca: certs.ca, ...client }), code);
    }
    assert.equal(r.opens.length, 1);
  });
});

test('mTLS with rejectUnauthorized: false opens and reports the problem', async () => {
  await withServer({ ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: false }, async (engine, r) => {
    const s = await tlsConnect(engine, { ca: certs.ca, ...certs.selfclient });
    assert.equal((await echoOnce(s, Buffer.from('hi'))).toString(), 'hi');
    assert.equal(r.opens[0].authorized, false);
    assert.equal(r.opens[0].authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    s.end();
  });
});

test('self-signed, expired and wrong-host server certificates: the client refuses with Node codes', async () => {
  const cases = [
    [certs.self, {}, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
    [certs.expired, {}, 'CERT_HAS_EXPIRED'],
    [certs.server, { servername: 'wrong.example' }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  ];
  for (const [pair, extra, code] of cases) {
    await withServer(pair, async (engine, r) => {
      const err = await tlsConnect(engine, { ca: certs.ca, ...extra }).then(
        (s) => (s.destroy(), new Error('connected')),
        (e) => e,
      );
      assert.equal(err.code, code);
      // And the server is fine: the next (accepting) client gets its echo.
      const s = await tlsConnect(engine, { ca: certs.ca, ...extra, rejectUnauthorized: false });
      assert.equal((await echoOnce(s, Buffer.from('still here'))).toString(), 'still here');
      s.end();
      await until(() => r.opens.length >= 1);
    });
  }
});

test('s_client: an expired certificate fails verification', async () => {
  await withServer(certs.expired, async (engine) => {
    const r = await sClient(engine, ['-CAfile', certs.caPath, '-verify_return_error'], 'bye\n');
    assert.notEqual(r.code, 0);
    assert.match(r.out, /certificate has expired/);
  });
});

test('garbage instead of a ClientHello, a close mid-handshake: onTlsError, no onOpen, fds closed', async () => {
  await withServer(certs.server, async (engine, r) => {
    const g = net.connect(engine.address.port, '127.0.0.1');
    g.on('error', () => {});
    g.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((res) => g.once('close', res));
    await until(() => r.tlsErrors.length === 1);
    assert.match(r.tlsErrors[0], /^ERR_SSL_/);

    const junk = net.connect(engine.address.port, '127.0.0.1');
    junk.on('error', () => {});
    junk.write(crypto.randomBytes(4096));
    await new Promise((res) => junk.once('close', res));
    await until(() => r.tlsErrors.length === 2);
    assert.match(r.tlsErrors[1], /^ERR_SSL_/);

    // Half a ClientHello record, then FIN.
    const half = net.connect(engine.address.port, '127.0.0.1');
    half.on('error', () => {});
    await new Promise((res) => half.once('connect', res));
    half.end(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await until(() => r.tlsErrors.length === 3);
    assert.equal(r.tlsErrors[2], 'ECONNRESET');
    half.destroy();
    assert.equal(r.opens.length, 0);
    assert.equal(r.closes.length, 0);
    await until(() => engine.countConnections() === 0, 5000, 'connections closed');
  });
});

test('handshakeTimeout: a client that never finishes gets ERR_TLS_HANDSHAKE_TIMEOUT; a finished handshake outlives it', async () => {
  await withServer({ ...certs.server, handshakeTimeout: 250 }, async (engine, r) => {
    const t0 = performance.now();
    const idle = net.connect(engine.address.port, '127.0.0.1'); // connects, never sends a ClientHello
    idle.on('error', () => {});
    const closed = new Promise((res) => idle.once('close', res));
    const s = await tlsConnect(engine, { ca: certs.ca });
    await closed;
    const ms = performance.now() - t0;
    assert.ok(ms >= 240 && ms < 3000, `closed after ${ms} ms, handshakeTimeout 250`);
    await until(() => r.tlsErrors.length === 1);
    assert.equal(r.tlsErrors[0], 'ERR_TLS_HANDSHAKE_TIMEOUT');
    // The finished one: its deadline was cancelled at the handshake, it still echoes.
    await new Promise((res) => setTimeout(res, 400));
    assert.equal((await echoOnce(s, Buffer.from('still here'))).toString(), 'still here');
    assert.equal(r.opens.length, 1);
    s.destroy();
    await until(() => engine.countConnections() === 0, 5000, 'connections closed');
  });
});

test('close_notify vs a bare FIN from the client: both end cleanly', async () => {
  await withServer(certs.server, async (engine, r) => {
    const a = await tlsConnect(engine, { ca: certs.ca });
    await echoOnce(a, Buffer.from('x'));
    a.end(); // close_notify, then FIN
    await until(() => r.closes.length === 1);
    const raw = net.connect(engine.address.port, '127.0.0.1');
    await new Promise((res) => raw.once('connect', res));
    const b = await tlsConnect(engine, { ca: certs.ca, socket: raw });
    await echoOnce(b, Buffer.from('y'));
    raw.end(); // FIN under the TLS layer: no close_notify
    await until(() => r.closes.length === 2);
    b.destroy();
    assert.deepEqual(r.closes, [null, null]);
    assert.equal(r.ends, 2);
  });
});

test('TLS 1.2 renegotiation is refused and the server lives on', async () => {
  await withServer(certs.server, async (engine, r) => {
    const out = await sClient(engine, ['-CAfile', certs.caPath, '-tls1_2', '-msg'], 'R\n', 10000, false);
    assert.match(out.out, /RENEGOTIATING/);
    assert.match(out.out, /warning no_renegotiation/);
    const s = await tlsConnect(engine, { ca: certs.ca });
    assert.equal((await echoOnce(s, Buffer.from('ok'))).toString(), 'ok');
    s.end();
    await until(() => r.opens.length === 2);
  });
});

test('TLS 1.2 renegotiation from a node:tls client is refused and the server lives on', async () => {
  await withServer(certs.server, async (engine, r) => {
    const s = await tlsConnect(engine, { ca: certs.ca, maxVersion: 'TLSv1.2' });
    s.on('error', () => {});
    assert.equal((await echoOnce(s, Buffer.from('before'))).toString(), 'before');
    // The server answers the new ClientHello with a no_renegotiation alert, which
    // OpenSSL's client takes as fatal (the s_client test above sees the alert itself).
    const err = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(new Error('no answer to the renegotiation in 10 s')), 10000);
      s.once('error', (e) => {
        clearTimeout(t);
        resolve(e);
      });
      s.renegotiate({}, (e) => {
        clearTimeout(t);
        resolve(e);
      });
      s.write('during'); // the ClientHello goes out with it
    });
    s.destroy();
    assert.ok(err, 'renegotiation was accepted');
    assert.match(err.message, /no renegotiation/i, String(err.stack)); // EPROTO: SSL routines … no renegotiation
    const again = await tlsConnect(engine, { ca: certs.ca });
    assert.equal((await echoOnce(again, Buffer.from('ok'))).toString(), 'ok');
    again.end();
    await until(() => r.opens.length === 2);
  });
});

test('setSecureContext: a new certificate for new handshakes, open connections kept', async () => {
  await withServer(certs.server, async (engine) => {
    const old = await tlsConnect(engine, { ca: certs.ca });
    assert.equal(old.getPeerCertificate().fingerprint256, fingerprint(certs.server.cert));
    assert.throws(() => engine.setSecureContext({ cert: 'not a pem', key: certs.server.key }), { code: 'ERR_OSSL_PEM_NO_START_LINE' });
    assert.throws(() => engine.setSecureContext({ cert: certs.server.cert, key: certs.other.key }), { code: 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' });
    engine.setSecureContext(certs.server2);
    const fresh = await tlsConnect(engine, { ca: certs.ca });
    assert.equal(fresh.getPeerCertificate().fingerprint256, fingerprint(certs.server2.cert));
    assert.equal((await echoOnce(old, Buffer.from('old conn'))).toString(), 'old conn');
    assert.equal((await echoOnce(fresh, Buffer.from('new conn'))).toString(), 'new conn');
    old.end();
    fresh.end();
  });
});

test('bad TLS options reject serve() with a code, before anything listens', async () => {
  await assert.rejects(ringnet.serve({}, ADDR), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, 'tcp://127.0.0.1:0', { tls: certs.server }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { cert: certs.server.cert } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { ...certs.server, minVersion: 'SSLv3' } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { ...certs.server, SNICallback: 'x' } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve('./x.js', ADDR, { loops: 2, tls: { ...certs.server, SNICallback: 'x' } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { ...certs.server, ticketKeys: Buffer.alloc(10) } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { ...certs.server, handshakeTimeout: -1 } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { ...certs.server, ciphers: 'NOPE' } }), { code: 'ERR_SSL_NO_CIPHER_MATCH' });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { cert: certs.server.cert, key: certs.other.key } }), {
    code: 'ERR_OSSL_X509_KEY_VALUES_MISMATCH',
  });
});

test('minVersion TLSv1.3 refuses a TLS 1.2 client', async () => {
  await withServer({ ...certs.server, minVersion: 'TLSv1.3' }, async (engine, r) => {
    const err = await tlsConnect(engine, { ca: certs.ca, maxVersion: 'TLSv1.2' }).then(
      (s) => (s.destroy(), new Error('connected')),
      (e) => e,
    );
    assert.match(err.code, /^ERR_SSL_/);
    await until(() => r.tlsErrors.length === 1);
    assert.match(r.tlsErrors[0], /^ERR_SSL_(UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE)/);
  });
});

test('ALPN with nothing in common is refused', async () => {
  await withServer({ ...certs.server, ALPNProtocols: ['h2'] }, async (engine, r) => {
    const err = await tlsConnect(engine, { ca: certs.ca, ALPNProtocols: ['spdy/3'] }).then(
      (s) => (s.destroy(), new Error('connected')),
      (e) => e,
    );
    assert.match(err.code, /ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL/);
    await until(() => r.tlsErrors.length === 1);
  });
});


for (const backend of ['epoll', 'io_uring']) {
  test(`${backend}: SNICallback: answered at once, later, with the default, or refused; no call without a name`, async (t) => {
    if (!(await backendOk(backend))) return t.skip('io_uring unavailable here');
    const asked = [];
    const otherOpts = { ...certs.other };
    const SNICallback = (name, cb) => {
      asked.push(name);
      if (name === 'other.example') cb(null, otherOpts);
      else if (name === 'later.example') setTimeout(() => cb(null, otherOpts), 50);
      else if (name === 'refused.example') setTimeout(() => cb(Object.assign(new Error('no such site'), { code: 'ENOSITE' })), 10);
      else cb(null);
    };
    await withServer({ ...certs.server, SNICallback }, async (engine, r) => {
      for (const name of ['other.example', 'later.example', 'other.example']) {
        // The certificate names other.example only: which one came back is the check.
        const s = await tlsConnect(engine, { ca: certs.ca, servername: name, checkServerIdentity: () => undefined });
        assert.equal(s.getPeerCertificate().fingerprint256, fingerprint(certs.other.cert), name);
        const back = await echoOnce(s, Buffer.from('sni'));
        assert.equal(back.toString(), 'sni');
        s.destroy();
      }
      const d = await tlsConnect(engine, { ca: certs.ca, servername: 'localhost' });
      assert.equal(d.getPeerCertificate().fingerprint256, fingerprint(certs.server.cert));
      assert.equal((await echoOnce(d, Buffer.from('d'))).toString(), 'd'); // the server's handshake is done too
      d.destroy();
      await assert.rejects(tlsConnect(engine, { ca: certs.ca, servername: 'refused.example' }), (e) => typeof e.code === 'string');
      await until(() => r.tlsErrors.includes('ENOSITE'), 5000, 'onTlsError with the callback error');
      const before = asked.length;
      const ip = await tlsConnect(engine, { ca: certs.ca, servername: '' });
      assert.equal((await echoOnce(ip, Buffer.from('ip'))).toString(), 'ip');
      ip.destroy();
      assert.equal(asked.length, before, 'no SNI: no call');
      assert.deepEqual(asked, ['other.example', 'later.example', 'other.example', 'localhost', 'refused.example']);
      await until(() => r.opens.length >= 5, 3000, 'opens').catch((e) => { e.message += ` ${JSON.stringify(r.opens.map((o) => o.servername))} ${r.tlsErrors}`; throw e; });
      assert.deepEqual(r.opens.slice(0, 3).map((o) => o.servername), ['other.example', 'later.example', 'other.example']);
    }, { backend });
  });
}
