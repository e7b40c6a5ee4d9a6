'use strict';
// Framed echo servers for the codec bench rows (issue 12): the loadgen's messages
// as fixed-size frames, cut natively (`framed`: codec + onMessage + writeFrame) or
// by the handler (`manual`: onTraffic, the loop a user writes without a codec).
//   node bench/codec-echo.js --mode framed|manual --size N [--host H] [--port P]
const ringnet = require('../dist');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const mode = opt('mode', 'framed');
const size = Number(opt('size', '64'));
const host = opt('host', '127.0.0.1');
const port = Number(opt('port', '0'));
if (!['framed', 'manual'].includes(mode) || !(size > 0)) {
  console.error('usage: node bench/codec-echo.js --mode framed|manual --size N [--host H] [--port P]');
  process.exit(2);
}

const framed = {
  onMessage(c, frame) {
    c.writeFrame(frame);
  },
};
const manual = {
  onTraffic(c) {
    while (c.inboundBuffered >= size) c.write(c.next(size));
  },
};

(async () => {
  const engine = await ringnet.serve(mode === 'framed' ? framed : manual, `tcp://${host}:${port}`, mode === 'framed' ? { codec: { type: 'fixed', frameLength: size } } : {});
  console.log(`listening on ${engine.addr}`);
  const stop = () => engine.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})();
