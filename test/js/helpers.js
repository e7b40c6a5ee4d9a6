'use strict';
// Shared test helpers: a client socket with promise-based reads, and an engine
// fixture that always stops.
const net = require('node:net');
const crypto = require('node:crypto');
const ringnet = require('../../dist');

const LOOPBACK = 'tcp://127.0.0.1:0';

/** Connect a node:net client to an engine; resolves once connected. */
function connect(engine, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: engine.address.port, host: engine.address.address, ...opts });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Read exactly n bytes (or until end if n is Infinity) from a socket. */
function readBytes(sock, n, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let got = 0;
    const done = (err) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      sock.off('error', onErr);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (d) => {
      chunks.push(d);
      got += d.length;
      if (got >= n) done();
    };
    const onEnd = () => (n === Infinity ? done() : done(new Error(`socket ended after ${got} of ${n} bytes`)));
    const onErr = (e) => done(e);
    const timer = setTimeout(() => done(new Error(`timed out after ${got} of ${n} bytes`)), timeoutMs);
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onEnd);
    sock.once('error', onErr);
  });
}

/** Resolve when the socket is closed. */
function closed(sock) {
  return new Promise((resolve) => {
    if (sock.destroyed && sock.closed) return resolve();
    sock.once('close', resolve);
  });
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** Wait until pred() is true, polling; rejects after timeoutMs. */
async function until(pred, timeoutMs = 5000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const echo = {
  onTraffic(c) {
    c.write(c.next());
  },
};

/** Count this process's open fds. */
function fdCount() {
  return require('node:fs').readdirSync('/proc/self/fd').length;
}

module.exports = { ringnet, LOOPBACK, connect, readBytes, closed, sha256, until, echo, fdCount };
