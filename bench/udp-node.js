'use strict';
// node:dgram's UDP echo for bench/udp.js. usage: node bench/udp-node.js [port]
const dgram = require('node:dgram');

const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(`listening on udp://127.0.0.1:${s.address().port}`));
process.on('SIGTERM', () => process.exit(0));
