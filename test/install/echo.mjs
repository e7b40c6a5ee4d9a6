// ESM consumer: named imports from 'ringnet', the same echo round-trip, and the
// ESM namespace must carry every export the CJS module has.
import net from 'node:net';
import { createRequire } from 'node:module';
import * as ringnet from 'ringnet';
import { serve, Engine, Action, Conn, asyncWrite, asyncClose, wake, native } from 'ringnet';

const cjs = createRequire(import.meta.url)('ringnet');
const missing = Object.keys(cjs).filter((k) => !(k in ringnet));
if (missing.length) throw new Error(`ESM import lacks ${missing.join(', ')}`);
for (const [k, v] of Object.entries({ serve, Engine, Action, Conn, asyncWrite, asyncClose, wake, native })) {
  if (v === undefined || v !== cjs[k]) throw new Error(`ESM export ${k} is not the CJS one`);
}

const engine = await serve({ onTraffic(c) { c.write(c.next()); } }, 'tcp://127.0.0.1:0');
const msg = 'hello from import';
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
console.log(`esm echo ok via ${engine.addr} (${Object.keys(cjs).length} named exports, backend ${native.backend})`);
