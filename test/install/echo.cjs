// CJS consumer: require('ringnet'), one echo round-trip through serve(), node:net as the client.
'use strict';
const net = require('node:net');
const { serve } = require('ringnet');

// The exports map: package.json is reachable, dist/ internals are not.
require('ringnet/package.json');
try {
  require('ringnet/dist/conn');
  throw new Error("require('ringnet/dist/conn') should be refused by the exports map");
} catch (e) {
  if (e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
}

async function main() {
  const engine = await serve({ onTraffic(c) { c.write(c.next()); } }, 'tcp://127.0.0.1:0');
  const msg = 'hello from require()';
  const got = await new Promise((resolve, reject) => {
    const s = net.connect(engine.address.port, '127.0.0.1', () => s.write(msg));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      if (buf.length >= msg.length) { s.end(); resolve(buf); }
    });
    s.on('error', reject);
  });
  await engine.stop();
  if (got !== msg) throw new Error(`echoed ${JSON.stringify(got)}, sent ${JSON.stringify(msg)}`);
  console.log(`cjs echo ok via ${engine.addr}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
