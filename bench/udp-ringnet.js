'use strict';
// ringnet's UDP echo for bench/udp.js: one loop, replies queued per datagram and
// sent with one sendmmsg per received batch. usage: node bench/udp-ringnet.js [port]
const ringnet = require('../dist');

ringnet.serve({ onDatagram(d) { d.write(d.next()); } }, `udp://127.0.0.1:${Number(process.argv[2] || 0)}`, {
  udp: { recvBufferSize: 4 << 20, maxDatagramSize: 2048 },
}).then((e) => {
  console.log(`listening on ${e.addr}`);
  const stop = () => e.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
