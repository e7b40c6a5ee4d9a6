'use strict';
// Shared by the benches (echo.js, and proto.js for http.js / resp.js): every
// child is tracked so that no server or client outlives the benchmark, however
// it ends; and where results are written.
const path = require('node:path');

const live = new Set();
function track(child) {
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}
function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping children`);
    killAll();
    process.exit(130);
  });
}

// Results go to bench/results in a checkout; from an installed package (inside
// node_modules, maybe read-only) to ./ringnet-bench-results; RINGNET_BENCH_OUT
// chooses. What was written is printed with its full path.
const RESULTS = process.env.RINGNET_BENCH_OUT
  ? path.resolve(process.env.RINGNET_BENCH_OUT)
  : __dirname.split(path.sep).includes('node_modules')
    ? path.join(process.cwd(), 'ringnet-bench-results')
    : path.join(__dirname, 'results');

module.exports = { track, killAll, RESULTS };
