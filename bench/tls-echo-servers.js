'use strict';
// The Node side of the TLS echo bench (bench/tls.js): a node:tls echo server or
// ringnet's (tls:// listener, the CLI's echo handler), on a certificate given by path.
// usage: node bench/tls-echo-servers.js node|ringnet cert.pem key.pem [--backend epoll|io_uring]
const fs = require('node:fs');
const path = require('node:path');

const [kind, certFile, keyFile, ...rest] = process.argv.slice(2);
const cert = fs.readFileSync(certFile);
const key = fs.readFileSync(keyFile);
const say = (port) => process.stdout.write(`listening on tcp://127.0.0.1:${port}\n`);
process.on('SIGTERM', () => process.exit(0));

if (kind === 'node') {
  const tls = require('node:tls');
  const server = tls.createServer({ cert, key }, (s) => {
    s.setNoDelay(true);
    s.pipe(s);
    s.on('error', () => s.destroy());
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1', () => say(server.address().port));
} else if (kind === 'ringnet') {
  const ringnet = require(path.join(__dirname, '..', 'dist'));
  const { echoHandler } = require(path.join(__dirname, '..', 'dist', 'echo-handler.js'));
  const i = rest.indexOf('--backend');
  const backend = i >= 0 ? rest[i + 1] : 'epoll';
  ringnet.serve(echoHandler, 'tls://127.0.0.1:0', { tls: { cert, key }, backend }).then(
    (e) => say(e.address.port),
    (err) => {
      console.error(`ringnet: ${err.code}: ${err.message}`);
      process.exit(1);
    },
  );
} else {
  console.error('usage: node bench/tls-echo-servers.js node|ringnet cert.pem key.pem [--backend epoll|io_uring]');
  process.exit(2);
}
