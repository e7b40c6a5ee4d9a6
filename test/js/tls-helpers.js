'use strict';
// TLS test helpers: certificates made at test time with the openssl CLI in a temp
// directory (removed at exit), node:tls clients, and `openssl s_client` runs.
// RINGNET_TEST_CERTS=dir: the certificates are already in dir (writeCerts made them):
// scripts/test-win.js does that on the Linux side, since node.exe under Wine cannot
// run the Linux openssl binary.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { execFileSync, spawn } = require('node:child_process');

let dir;

function openssl(cwd, args) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A CA and leaves it signs: server (localhost, 127.0.0.1), server2 (localhost, a
 * second key: hot reload), other (other.example: SNI), expired, client (mTLS), and
 * self-signed `self` / `selfclient`, `revoked` (on ca-revoked.crl), PKCS#12 bundles of
 * server and client, and two CRLs. Returns { dir, ca, server: { cert, key }, … }.
 */
function makeCerts() {
  if (dir) return load();
  if (process.env.RINGNET_TEST_CERTS) {
    dir = process.env.RINGNET_TEST_CERTS;
    return load();
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  writeCerts(dir);
  return load();
}

/** Make makeCerts()'s files in `into` (an existing directory) with the openssl CLI. */
function writeCerts(into) {
  const run = (args) => openssl(into, args);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=ringnet-test-ca']);
  const leaf = (name, cn, san, days) => {
    run(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    fs.writeFileSync(path.join(into, `${name}.ext`), `subjectAltName=${san}\n`);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(days),
      '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  };
  leaf('server', 'localhost', 'DNS:localhost,IP:127.0.0.1', 30);
  leaf('server2', 'localhost', 'DNS:localhost,IP:127.0.0.1', 30);
  leaf('other', 'other.example', 'DNS:other.example', 30);
  leaf('expired', 'localhost', 'DNS:localhost,IP:127.0.0.1', -1);
  leaf('client', 'ringnet-client', 'DNS:client', 30);
  for (const [name, cn] of [['self', 'localhost'], ['selfclient', 'ringnet-client']]) {
    run(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${cn}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  }
  // PKCS#12 bundles (pfx): leaf, key and the CA as chain, under a passphrase.
  for (const name of ['server', 'client']) {
    run(['pkcs12', '-export', '-in', `${name}.pem`, '-inkey', `${name}.key`, '-certfile', 'ca.pem', '-passout', 'pass:pfx-secret',
      '-out', `${name}.p12`]);
  }
  // CRLs: `revoked` (localhost, usable as a server or a client certificate) is on
  // ca-revoked.crl; ca-empty.crl revokes nothing.
  leaf('revoked', 'localhost', 'DNS:localhost,IP:127.0.0.1', 30);
  fs.writeFileSync(path.join(into, 'ca.cnf'),
    '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n');
  fs.writeFileSync(path.join(into, 'index.txt'), '');
  fs.writeFileSync(path.join(into, 'crlnumber'), '01\n');
  const ca = ['-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.pem'];
  run(['ca', ...ca, '-gencrl', '-out', 'ca-empty.crl']);
  run(['ca', ...ca, '-revoke', 'revoked.pem']);
  run(['ca', ...ca, '-gencrl', '-out', 'ca-revoked.crl']);
}

function load() {
  const read = (f) => fs.readFileSync(path.join(dir, f));
  const pair = (n) => ({ cert: read(`${n}.pem`), key: read(`${n}.key`) });
  return {
    dir,
    ca: read('ca.pem'),
    caPath: path.join(dir, 'ca.pem'),
    server: pair('server'),
    server2: pair('server2'),
    other: pair('other'),
    expired: pair('expired'),
    client: pair('client'),
    self: pair('self'),
    selfclient: pair('selfclient'),
    revoked: pair('revoked'),
    serverPfx: read('server.p12'),
    clientPfx: read('client.p12'),
    pfxPassphrase: 'pfx-secret',
    crlEmpty: read('ca-empty.crl'),
    crlRevoked: read('ca-revoked.crl'),
  };
}

/** node:tls client; resolves { sock } on secureConnect, rejects on error before it. */
function tlsConnect(engine, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port: engine.address.port, host: '127.0.0.1', servername: 'localhost', ...opts });
    s.once('secureConnect', () => resolve(s));
    s.once('error', (e) => {
      s.destroy();
      reject(e);
    });
  });
}

/**
 * Run `openssl s_client` against the engine with `input` on stdin (stdin stays open
 * until the server closes: -ign_eof). Resolves { code, out } (stdout + stderr); rejects
 * (killing it) after timeoutMs.
 */
function sClient(engine, args, input, timeoutMs = 10000, ignEof = true) {
  return new Promise((resolve, reject) => {
    // Without -ign_eof s_client takes command letters (R: renegotiate); stdin stays open either way.
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${engine.address.port}`, ...(ignEof ? ['-ign_eof'] : []), ...args], { cwd: dir });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`s_client timed out; output:\n${out}`));
    }, timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    p.stdin.on('error', () => {});
    if (input !== undefined) p.stdin.write(input);
  });
}

/** A node:tls echo server on 127.0.0.1; resolves { server, port }. */
function tlsEchoServer(opts) {
  return new Promise((resolve) => {
    const server = tls.createServer(opts, (s) => {
      s.on('data', (d) => s.write(d));
      s.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
  });
}

/**
 * Connect a node:tls client that the ringnet server refuses and resolve the code
 * the server's onTlsError got (`r.tlsErrors`, an array the handler pushes codes
 * to). In TLS 1.3 the client may finish its side before the server's verdict
 * arrives: it then writes and waits for the close.
 */
async function refusedCode(engine, r, opts) {
  const { until } = require('./helpers');
  const before = r.tlsErrors.length;
  const s = await tlsConnect(engine, opts).catch((e) => e);
  if (!(s instanceof Error)) {
    s.on('error', () => {});
    s.resume();
    s.write('x');
    await new Promise((res) => s.once('close', res));
  }
  await until(() => r.tlsErrors.length > before, 5000, 'onTlsError');
  return r.tlsErrors.at(-1);
}

// Whether `backend` can run here (io_uring may be refused: seccomp, io_uring_disabled).
async function backendOk(backend) {
  if (backend === 'epoll') return true;
  try {
    const e = await require('./helpers').ringnet.serve({}, 'tcp://127.0.0.1:0', { backend: 'io_uring' });
    await e.stop();
    return true;
  } catch {
    return false;
  }
}

// The backend a loop asked for `backend` reports: on Windows every loop is 'afd'.
function backendName(backend) {
  return process.platform === 'win32' ? 'afd' : backend;
}

module.exports = { backendOk, backendName, makeCerts, writeCerts, tlsConnect, tlsEchoServer, refusedCode, sClient };
