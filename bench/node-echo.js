'use strict';
// Plain node:net echo server: the baseline ringnet is measured against.
// usage: node bench/node-echo.js [--host 127.0.0.1] [--port 0]
const net = require('node:net');

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', '0'));

const server = net.createServer({ noDelay: true }, (socket) => {
  // pipe() gives backpressure for free: reading pauses while a write is queued.
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
});
server.listen(port, host, () => {
  const { address, port: real } = server.address();
  process.stdout.write(`listening on tcp://${address}:${real}\n`);
});
process.on('SIGTERM', () => process.exit(0));
