'use strict';
// Microbenchmarks of ringnet's JS-side buffer code, with the `benchmark` package:
// inbound views (peek/next/read) and outbound recording (write of small buffers,
// strings and large buffers), on a live connection. Writes are recorded but the
// op log is reset before it is flushed, so this times the JS half of the hot path
// alone; bench/echo.js measures the whole path.
//
//   node bench/micro/buffers.js
const Benchmark = require('benchmark');
const net = require('node:net');
const ringnet = require('../../dist');

async function main() {
  let conn;
  const engine = await ringnet.serve({ onOpen: (c) => void (conn = c), onTraffic: () => undefined }, 'tcp://127.0.0.1:0');
  const client = net.connect(engine.address.port, '127.0.0.1');
  client.resume();
  client.write(Buffer.alloc(4096, 97)); // 4 KiB waiting inbound for the peek benchmarks
  while (!conn || conn.inboundBuffered < 4096) await new Promise((r) => setTimeout(r, 5));
  const core = conn.core;
  const reset = () => {
    core.ops[0] = 0;
    core.ops[1] = 0;
    core.refs.length = 0;
  };
  const small = Buffer.alloc(64, 1);
  const large = Buffer.alloc(16384, 2);
  const str = 'x'.repeat(64);
  const into = Buffer.alloc(64);

  const suite = new Benchmark.Suite('ringnet buffers');
  suite
    .add('peek() view of 4 KiB', () => conn.peek())
    .add('peek(64)', () => conn.peek(64))
    .add('next(64) + restore', () => {
      conn.next(64);
      core.ct[conn.row + 2] -= 64; // give the bytes back: same state every cycle
    })
    .add('read(64 B copy) + restore', () => {
      conn.read(into);
      core.ct[conn.row + 2] -= 64;
    })
    .add('write(64 B Buffer) → staging', () => {
      conn.write(small);
      if (core.ops[0] > 4000) reset();
    })
    .add('write(64-char string) → staging', () => {
      conn.write(str);
      if (core.ops[0] > 4000) reset();
    })
    .add('write(16 KiB Buffer) → by reference', () => {
      conn.write(large);
      if (core.ops[0] > 4000) reset();
    })
    .add('baseline: Buffer#subarray(0, 64)', () => small.subarray(0, 64))
    .on('cycle', (e) => console.log(String(e.target)))
    .on('complete', async () => {
      reset();
      client.destroy();
      await engine.stop();
    })
    .run({ async: false });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
