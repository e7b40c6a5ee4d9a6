'use strict';
// TLS with loops > 1 (issue 11): every loop builds its own native context from the
// same options; tickets resume on any loop (the engine's ticket keys);
// setSecureContext reaches every loop; main reactor and reusePort.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { ringnet, readBytes } = require('./helpers');
const { fixture } = require('./multi-helpers');
const { makeCerts, tlsConnect } = require('./tls-helpers');

const certs = makeCerts();
const fp = (pem) => new crypto.X509Certificate(pem).fingerprint256;

// One line from a socket (bounded in time).
function readLine(s, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`no line in ${timeoutMs} ms (got '${buf}')`)), timeoutMs);
    const onData = (d) => {
      buf += d.toString();
      if (buf.includes('\n')) done();
    };
    const onEnd = () => done(new Error(`ended before a line (got '${buf}')`));
    const done = (err) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      if (err) reject(err);
      else resolve(buf.slice(0, buf.indexOf('\n')));
    };
    s.on('data', onData);
    s.once('end', onEnd);
  });
}

async function who(engine, opts = {}) {
  const s = await tlsConnect(engine, { ca: certs.ca, ...opts });
  const line = readLine(s);
  s.write('who\n');
  const info = JSON.parse(await line);
  info.fingerprint = s.getPeerCertificate().fingerprint256;
  info.session = s.getSession();
  const payload = crypto.randomBytes(40000);
  const back = readBytes(s, payload.length, 5000);
  s.write(payload);
  assert.ok((await back).equals(payload), 'echo');
  s.end();
  return info;
}

for (const reusePort of [false, true]) {
  test(`loops: 2${reusePort ? ', reusePort' : ' (main reactor)'}: handshakes on both loops, tickets resume across loops, setSecureContext reaches every loop`, async () => {
    const engine = await ringnet.serve(fixture('tls-who.js'), ['tls://127.0.0.1:0'], {
      loops: 2, reusePort, loadBalancing: 'roundRobin', tls: { ...certs.server, ALPNProtocols: ['h2'] },
    });
    try {
      assert.match(engine.addr, /^tls:\/\//);
      const seen = [];
      for (let i = 0; i < 8; i++) seen.push(await who(engine, { maxVersion: i % 2 ? 'TLSv1.2' : 'TLSv1.3' }));
      assert.ok(seen.every((s) => s.fingerprint === fp(certs.server.cert)));
      const loops = new Set(seen.map((s) => s.loop));
      if (!reusePort) assert.deepEqual([...loops].sort(), [0, 1], 'round robin spreads over both loops');
      // Resume a session on every loop: the ticket of one loop opens on the other.
      const resumed = [];
      for (let i = 0; i < 6; i++) resumed.push(await who(engine, { session: seen[0].session }));
      assert.ok(resumed.every((r) => r.reused), `every resumption worked: ${JSON.stringify(resumed.map((r) => [r.loop, r.reused]))}`);
      if (!reusePort) assert.deepEqual([...new Set(resumed.map((r) => r.loop))].sort(), [0, 1]);
      // Hot reload on every loop, open connections kept.
      const open = await tlsConnect(engine, { ca: certs.ca });
      await engine.setSecureContext({ ...certs.server2 });
      const after = [];
      for (let i = 0; i < 4; i++) after.push(await who(engine));
      assert.ok(after.every((a) => a.fingerprint === fp(certs.server2.cert)), 'the new certificate on every loop');
      if (!reusePort) assert.deepEqual([...new Set(after.map((r) => r.loop))].sort(), [0, 1]);
      const back = readBytes(open, 5, 5000);
      open.write('still');
      assert.equal((await back).toString(), 'still');
      open.destroy();
      // Bad options: thrown at once, the old context kept.
      assert.throws(() => engine.setSecureContext({ cert: 'nope', key: 'nope' }), (e) => /^ERR_OSSL_/.test(e.code));
      assert.equal((await who(engine)).fingerprint, fp(certs.server2.cert));
    } finally {
      await engine.stop({ timeout: 1000 });
    }
  });
}

test('loops: 2 (main reactor), tickets: false: a TLS 1.2 session id from one loop resumes on the other, and after setSecureContext', async () => {
  const engine = await ringnet.serve(fixture('tls-who.js'), ['tls://127.0.0.1:0'], {
    loops: 2, loadBalancing: 'roundRobin', tls: { ...certs.server, tickets: false },
  });
  try {
    const first = await who(engine, { maxVersion: 'TLSv1.2' });
    assert.equal(first.reused, false);
    const resumed = [];
    for (let i = 0; i < 6; i++) resumed.push(await who(engine, { maxVersion: 'TLSv1.2', session: first.session }));
    assert.ok(resumed.every((r) => r.reused), `every resumption worked: ${JSON.stringify(resumed.map((r) => [r.loop, r.reused]))}`);
    assert.deepEqual([...new Set(resumed.map((r) => r.loop))].sort(), [0, 1], 'resumed on both loops');
    // A reload keeps the engine's keys, and with them its sessions (as tickets).
    await engine.setSecureContext({ ...certs.server, tickets: false });
    const after = [];
    for (let i = 0; i < 2; i++) after.push(await who(engine, { maxVersion: 'TLSv1.2', session: first.session }));
    assert.ok(after.every((r) => r.reused), 'resumed after setSecureContext');
    // A session the server never made: a full handshake.
    const other = await ringnet.serve(fixture('tls-who.js'), ['tls://127.0.0.1:0'], { tls: { ...certs.server, tickets: false } });
    try {
      const foreign = await who(other, { maxVersion: 'TLSv1.2' });
      const cross = await who(engine, { maxVersion: 'TLSv1.2', session: foreign.session });
      assert.equal(cross.reused, false, "another engine's session (other keys, other cache) does not resume here");
    } finally {
      await other.stop({ timeout: 1000 });
    }
  } finally {
    await engine.stop({ timeout: 1000 });
  }
});

test('loops: 2, a tls:// and a tcp:// listener on one main reactor: each connection gets its listener\'s kind', async () => {
  const engine = await ringnet.serve(fixture('tls-who.js'), ['tcp://127.0.0.1:0', 'tls://127.0.0.1:0'], { loops: 2, tls: certs.server });
  try {
    assert.match(engine.addrs[0], /^tcp:\/\//);
    assert.match(engine.addrs[1], /^tls:\/\//);
    const tlsPort = Number(engine.addrs[1].split(':').pop());
    for (let i = 0; i < 4; i++) {
      const info = await who({ address: { port: tlsPort } });
      assert.equal(info.fingerprint, fp(certs.server.cert));
    }
    const net = require('node:net');
    for (let i = 0; i < 4; i++) {
      const s = net.connect(engine.address.port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      const got = readLine(s);
      s.write('who\n');
      const info = JSON.parse(await got);
      assert.equal(info.version, null, 'plain on the tcp:// listener');
      s.destroy();
    }
  } finally {
    await engine.stop({ timeout: 1000 });
  }
});

test('loops: 2 with bad TLS options rejects serve() before any loop starts', async () => {
  await assert.rejects(ringnet.serve(fixture('tls-who.js'), 'tls://127.0.0.1:0', { loops: 2, tls: { cert: 'x', key: 'y' } }), (e) => /^ERR_OSSL_/.test(e.code));
});
