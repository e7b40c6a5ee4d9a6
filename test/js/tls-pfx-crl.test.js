'use strict';
// TLS certificates from a PKCS#12 bundle (`pfx`) and revocation lists (`crl`), on
// a tls:// listener and on a tls:// dial, against node:tls peers. Certificates,
// bundles and CRLs are made at test time (tls-helpers.js: writeCerts).
const test = require('node:test');
const assert = require('node:assert/strict');
const tls = require('node:tls');
const crypto = require('node:crypto');
const { ringnet, until } = require('./helpers');
const { makeCerts, tlsConnect, tlsEchoServer: nodeServer, refusedCode } = require('./tls-helpers');

const certs = makeCerts();
const ADDR = 'tls://127.0.0.1:0';
const fp = (pem) => new crypto.X509Certificate(pem).fingerprint256;

// A ringnet tls:// echo server; r collects what its handler saw.
async function withServer(tlsOpts, fn) {
  const r = { opens: [], tlsErrors: [] };
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        r.opens.push({ authorized: c.authorized, authorizationError: c.authorizationError, peer: c.peerCertificate });
      },
      onTraffic(c) {
        c.write(c.next());
      },
      onTlsError(e) {
        r.tlsErrors.push(e.code);
      },
    },
    ADDR,
    { tls: tlsOpts },
  );
  try {
    await fn(engine, r);
  } finally {
    await engine.stop({ timeout: 1000 });
  }
}

function echoOnce(s, data) {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= data.length) resolve(got);
    });
    s.once('error', reject);
    s.write(data);
  });
}

async function client() {
  const received = [];
  const engine = await ringnet.createClient({
    onTraffic(c) {
      received.push(Buffer.from(c.next()));
    },
  });
  return { engine, received };
}

test('pfx: a tls:// listener serves the certificate and chain of a PKCS#12 bundle', async () => {
  for (const pfx of [certs.serverPfx, [certs.serverPfx], [{ buf: certs.serverPfx, passphrase: certs.pfxPassphrase }]]) {
    const opts = Array.isArray(pfx) && pfx[0].buf ? { pfx } : { pfx, passphrase: certs.pfxPassphrase };
    await withServer(opts, async (engine) => {
      const s = await tlsConnect(engine, { ca: certs.ca });
      assert.equal(s.authorized, true);
      const peer = s.getPeerCertificate(true);
      assert.equal(peer.fingerprint256, fp(certs.server.cert));
      assert.equal(peer.issuerCertificate.fingerprint256, fp(certs.ca), 'the bundle\'s CA is sent as the chain');
      assert.equal((await echoOnce(s, Buffer.from('pfx'))).toString(), 'pfx');
      s.end();
    });
  }
});

test('pfx: a wrong passphrase, garbage, or two bundles reject serve() with a code; nothing listens', async () => {
  const cases = [
    [{ pfx: certs.serverPfx, passphrase: 'wrong' }, /^ERR_OSSL_/, /pfx/],
    [{ pfx: certs.serverPfx }, /^ERR_OSSL_/, /pfx/],
    [{ pfx: Buffer.from('not a bundle') }, /^ERR_OSSL_/, /pfx/],
    [{ pfx: [certs.serverPfx, certs.clientPfx], passphrase: certs.pfxPassphrase }, /^ERR_RINGNET_INVALID_OPTION$/, /one bundle/],
    [{ pfx: 'a string', passphrase: 'x' }, /^ERR_RINGNET_INVALID_OPTION$/, /pfx/],
  ];
  for (const [opts, code, message] of cases) {
    await assert.rejects(ringnet.serve({}, ADDR, { tls: opts }), (e) => {
      assert.match(e.code, code, `${e.code}: ${e.message}`);
      assert.match(e.message, message);
      return true;
    });
  }
});

test('crl on a listener: a revoked client certificate is refused with CERT_REVOKED, a good one accepted', async () => {
  const base = { ...certs.server, ca: certs.ca, requestCert: true };
  await withServer({ ...base, crl: certs.crlRevoked }, async (engine, r) => {
    const ok = await tlsConnect(engine, { ca: certs.ca, ...certs.client });
    assert.equal((await echoOnce(ok, Buffer.from('good'))).toString(), 'good');
    assert.equal(r.opens[0].authorized, true);
    ok.end();
    assert.equal(await refusedCode(engine, r, { ca: certs.ca, ...certs.revoked }), 'CERT_REVOKED');
    assert.equal(r.opens.length, 1);
  });
  // The same certificate against a CRL that does not list it.
  await withServer({ ...base, crl: certs.crlEmpty }, async (engine, r) => {
    const s = await tlsConnect(engine, { ca: certs.ca, ...certs.revoked });
    assert.equal((await echoOnce(s, Buffer.from('fine'))).toString(), 'fine');
    assert.equal(r.opens[0].authorized, true);
    s.end();
  });
  // rejectUnauthorized: false opens and says why.
  await withServer({ ...base, crl: [certs.crlRevoked], rejectUnauthorized: false }, async (engine, r) => {
    const s = await tlsConnect(engine, { ca: certs.ca, ...certs.revoked });
    assert.equal((await echoOnce(s, Buffer.from('x'))).toString(), 'x');
    assert.equal(r.opens[0].authorized, false);
    assert.equal(r.opens[0].authorizationError, 'CERT_REVOKED');
    s.end();
  });
  await assert.rejects(ringnet.serve({}, ADDR, { tls: { ...base, crl: 'not a CRL' } }), { code: 'ERR_OSSL_PEM_NO_START_LINE' });
});

test('dial with crl and pfx: a revoked server certificate fails with CERT_REVOKED (as node:tls does); a pfx client certificate is accepted', async () => {
  const revoked = await nodeServer({ ...certs.revoked });
  const good = await nodeServer({ ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true });
  const { engine, received } = await client();
  try {
    // node:tls's own verdict on the same server, for the code.
    const nodeCode = await new Promise((resolve) => {
      const s = tls.connect({ port: revoked.port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca, crl: certs.crlRevoked });
      s.once('secureConnect', () => resolve('connected'));
      s.once('error', (e) => {
        s.destroy();
        resolve(e.code);
      });
    });
    assert.equal(nodeCode, 'CERT_REVOKED');
    await assert.rejects(engine.dial(`tls://localhost:${revoked.port}`, { ca: certs.ca, crl: certs.crlRevoked, timeout: 5000 }), { code: nodeCode });
    const ok = await engine.dial(`tls://localhost:${revoked.port}`, { ca: certs.ca, crl: certs.crlEmpty, timeout: 5000 });
    assert.equal(ok.authorized, true);
    ok.close();
    const loose = await engine.dial(`tls://localhost:${revoked.port}`, { ca: certs.ca, crl: certs.crlRevoked, rejectUnauthorized: false, timeout: 5000 });
    assert.equal(loose.authorized, false);
    assert.equal(loose.authorizationError, 'CERT_REVOKED');
    loose.close();

    // mTLS with the client's certificate from a PKCS#12 bundle.
    const c = await engine.dial(`tls://localhost:${good.port}`, { ca: certs.ca, pfx: certs.clientPfx, passphrase: certs.pfxPassphrase, timeout: 5000 });
    c.write(Buffer.from('mtls'));
    await until(() => Buffer.concat(received).length >= 4, 5000, 'the echo');
    assert.equal(Buffer.concat(received).toString(), 'mtls');
    c.close();
    await assert.rejects(engine.dial(`tls://localhost:${good.port}`, { ca: certs.ca, pfx: certs.clientPfx, passphrase: 'wrong', timeout: 5000 }),
      (e) => /^ERR_OSSL_/.test(e.code) && /pfx/.test(e.message));
  } finally {
    await engine.stop({ timeout: 1000 });
    await new Promise((r) => revoked.server.close(r));
    await new Promise((r) => good.server.close(r));
  }
});
