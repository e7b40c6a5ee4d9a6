'use strict';
// SNICallback with loops > 1: the callback runs on the thread that called serve();
// the loop whose handshake paused on a ClientHello asks it and resumes with the
// answer (lib/tls-sni.ts). Each case runs with loops: 2 (and loops: 1 where the
// behaviour is the same on both paths).
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { ringnet, until } = require('./helpers');
const { fixture, reports } = require('./multi-helpers');
const { makeCerts, tlsConnect } = require('./tls-helpers');

const certs = makeCerts();
const fp = (pem) => new crypto.X509Certificate(pem).fingerprint256;
const ANY_NAME = { checkServerIdentity: () => undefined }; // which certificate came back is the check

// "who" over a connection: { loop, servername, … } and the certificate it got.
function who(s) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no answer to who (got '${buf}')`)), 5000);
    s.on('data', (d) => {
      buf += d;
      if (!buf.includes('\n')) return;
      clearTimeout(timer);
      const info = JSON.parse(buf.slice(0, buf.indexOf('\n')));
      const peer = s.getPeerCertificate();
      resolve({ ...info, fingerprint: peer.fingerprint256, cn: peer.subject.CN });
    });
    s.write('who\n');
  });
}

async function hello(engine, servername, opts = {}) {
  const s = await tlsConnect(engine, { ca: certs.ca, servername, ...ANY_NAME, ...opts });
  try {
    return { ...(await who(s)), alpn: s.alpnProtocol };
  } finally {
    s.destroy();
  }
}

// A refused handshake: the client's error (node:tls), and the code onTlsError got.
async function refused(engine, r, servername) {
  const before = r.of('tlsError').length;
  const err = await tlsConnect(engine, { ca: certs.ca, servername, ...ANY_NAME }).then(
    (s) => (s.destroy(), new Error(`${servername}: connected`)),
    (e) => e,
  );
  assert.equal(typeof err.code, 'string', `${servername}: the client's handshake failed (${err.message})`);
  await until(() => r.of('tlsError').length > before, 5000, `onTlsError for ${servername}`);
  return r.of('tlsError')[before].code;
}

const serveWith = (loops, tls, extra = {}) =>
  ringnet.serve(fixture('tls-sni.js'), 'tls://127.0.0.1:0', { loops, loadBalancing: 'roundRobin', tls, ...extra });

for (const [loops, reusePort] of [[2, false], [2, true], [1, false]]) {
  test(`loops: ${loops}${reusePort ? ', reusePort' : ''}: SNICallback answers now, later, with the default, twice, by throwing, with an error or bad options; SNIContexts not used`, async () => {
    const r = reports();
    const asked = [];
    const otherOpts = { ...certs.other };
    const SNICallback = (name, cb) => {
      asked.push(name);
      if (name === 'other.example') cb(null, otherOpts);
      else if (name === 'later.example') setTimeout(() => cb(null, otherOpts), 50);
      else if (name === 'twice.example') {
        cb(null, otherOpts);
        cb(Object.assign(new Error('second answer'), { code: 'ESECOND' }));
      } else if (name === 'throws.example') throw Object.assign(new Error('callback threw'), { code: 'ETHROWN' });
      else if (name === 'refused.example') setTimeout(() => cb(Object.assign(new Error('no such site'), { code: 'ENOSITE' })), 10);
      else if (name === 'badpem.example') cb(null, { cert: 'not a pem', key: 'nor this' });
      else if (name === 'noclone.example') cb(null, { ...certs.other, extra: () => {} });
      else cb(null);
    };
    // SNIContexts names ctx.example, and the callback answers the default for it: the callback wins.
    const engine = await serveWith(loops, { ...certs.server, SNICallback, SNIContexts: { 'ctx.example': certs.server2 } }, { reusePort });
    try {
      const seen = [];
      for (const name of ['other.example', 'later.example', 'other.example', 'later.example', 'twice.example', 'twice.example']) {
        const got = await hello(engine, name);
        assert.equal(got.fingerprint, fp(certs.other.cert), name);
        assert.equal(got.cn, 'other.example', name);
        assert.equal(got.servername, name);
        seen.push(got.loop);
      }
      if (loops === 2 && !reusePort) assert.deepEqual([...new Set(seen)].sort(), [0, 1], 'handshakes on both loops');
      for (const name of ['localhost', 'ctx.example']) {
        const got = await hello(engine, name);
        assert.equal(got.fingerprint, fp(certs.server.cert), `${name}: the top-level certificate`);
        assert.equal(got.cn, 'localhost');
      }
      assert.equal(await refused(engine, r, 'refused.example'), 'ENOSITE');
      assert.equal(await refused(engine, r, 'throws.example'), 'ETHROWN');
      assert.match(await refused(engine, r, 'badpem.example'), /^ERR_OSSL_/);
      assert.match(await refused(engine, r, 'badpem.example'), /^ERR_OSSL_/, 'the same failure again (kept, not a crash)');
      if (loops > 1) {
        // Options that cannot reach a loop thread (a function) refuse the handshake there.
        const code = await refused(engine, r, 'noclone.example');
        assert.equal(code, 'ERR_RINGNET_SNI_CALLBACK');
        assert.match(r.of('tlsError').at(-1).message, /SNICallback: .*could not be cloned/);
      }
      const before = asked.length;
      const noName = await hello(engine, '');
      assert.equal(noName.fingerprint, fp(certs.server.cert));
      assert.equal(asked.length, before, 'no SNI: no call');
      // The second cb() of twice.example was ignored: nothing failed with ESECOND.
      assert.ok(!r.of('tlsError').some((e) => e.code === 'ESECOND'));
      await until(() => engine.countConnections() === 0, 5000, 'every connection closed');
    } finally {
      await engine.stop({ timeout: 1000 });
      r.close();
    }
  });
}

for (const loops of [1, 2]) {
  test(`loops: ${loops}: setSecureContext swaps the SNICallback and drops contexts built over the old options`, async () => {
    const answer = { cert: certs.other.cert, key: certs.other.key }; // the same object before and after
    const engine = await serveWith(loops, { ...certs.server, SNICallback: (_n, cb) => cb(null, answer) });
    try {
      for (let i = 0; i < 2 * loops; i++) {
        const got = await hello(engine, 'other.example', { ALPNProtocols: ['h2'] });
        assert.equal(got.fingerprint, fp(certs.other.cert));
        assert.equal(got.alpn, false, 'no ALPN in the first options');
      }
      // Same answer object, new top-level options (ALPN): the answer's context is built again over them.
      await engine.setSecureContext({ ...certs.server, ALPNProtocols: ['h2'], SNICallback: (_n, cb) => cb(null, answer) });
      for (let i = 0; i < 2 * loops; i++) {
        const got = await hello(engine, 'other.example', { ALPNProtocols: ['h2'] });
        assert.equal(got.fingerprint, fp(certs.other.cert));
        assert.equal(got.alpn, 'h2', 'merged over the new options');
      }
      // A new callback answers from now on.
      await engine.setSecureContext({ ...certs.server, SNICallback: (_n, cb) => cb(null, certs.server2) });
      assert.equal((await hello(engine, 'other.example')).fingerprint, fp(certs.server2.cert));
      // No callback any more: the listener's own certificate, no call.
      await engine.setSecureContext({ ...certs.server2 });
      assert.equal((await hello(engine, 'other.example')).fingerprint, fp(certs.server2.cert));
    } finally {
      await engine.stop({ timeout: 1000 });
    }
  });
}

test('loops: 2: an answer that comes after the client left is dropped; the loops go on', async () => {
  const r = reports();
  const waiting = [];
  const SNICallback = (name, cb) => (name === 'slow.example' ? waiting.push(cb) : cb(null, certs.other));
  const engine = await serveWith(2, { ...certs.server, SNICallback });
  try {
    const socks = [];
    for (let i = 0; i < 4; i++) {
      const tls = require('node:tls');
      const s = tls.connect({ port: engine.address.port, host: '127.0.0.1', servername: 'slow.example', ca: certs.ca, ...ANY_NAME });
      s.on('error', () => {});
      socks.push(s);
    }
    await until(() => waiting.length === 4, 5000, 'four lookups');
    // While they wait, both loops serve other handshakes.
    const loopsSeen = new Set();
    for (let i = 0; i < 4; i++) loopsSeen.add((await hello(engine, 'other.example')).loop);
    assert.deepEqual([...loopsSeen].sort(), [0, 1]);
    for (const s of socks) s.destroy();
    await until(() => engine.countConnections() === 0, 5000, 'the waiting handshakes closed');
    await until(() => r.of('tlsError').length >= 4, 5000, 'their onTlsError');
    assert.deepEqual(r.of('tlsError').map((e) => e.code), ['ECONNRESET', 'ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
    // Late answers, of every kind, for handshakes that are gone.
    waiting[0](null, certs.other);
    waiting[1](null);
    waiting[2](Object.assign(new Error('late refusal'), { code: 'ELATE' }));
    waiting[3](null, { ...certs.other });
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(!r.of('tlsError').some((e) => e.code === 'ELATE'), 'a late refusal reaches no one');
    for (let i = 0; i < 4; i++) assert.equal((await hello(engine, 'other.example')).fingerprint, fp(certs.other.cert));
    await until(() => engine.countConnections() === 0, 5000, 'no connection left behind');
  } finally {
    await engine.stop({ timeout: 1000 });
    r.close();
  }
});

test('loops: 2: engine.stop() while lookups are pending closes their handshakes; answers after it are dropped', async () => {
  const waiting = [];
  const engine = await serveWith(2, { ...certs.server, SNICallback: (_n, cb) => waiting.push(cb) });
  const tls = require('node:tls');
  const closed = [];
  for (let i = 0; i < 4; i++) {
    const s = tls.connect({ port: engine.address.port, host: '127.0.0.1', servername: `pending${i}.example`, ca: certs.ca, ...ANY_NAME });
    s.on('error', () => {});
    closed.push(new Promise((res) => s.once('close', res)));
  }
  await until(() => waiting.length === 4, 5000, 'four lookups');
  const t0 = Date.now();
  await engine.stop({ timeout: 500 });
  assert.ok(Date.now() - t0 < 5000, 'stop did not wait on the lookups');
  await Promise.all(closed); // every client saw its connection end
  for (const cb of waiting) cb(null, certs.other); // nothing to answer now: no throw, no crash
  assert.equal(engine.stopped, true);
});
