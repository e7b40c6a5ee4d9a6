'use strict';
// `npm run bench -- http [--quick] [--rounds R] [--duration S] [--servers ringnet,node,bun] [--loops K]`
// HTTP/1.1 with wrk, 50 connections, plain and 16-deep pipelined, a route
// returning 13 bytes: the ringnet example (examples/http) vs node:http vs
// Bun.serve (node_modules/.bin/bun). Installs nothing; a missing wrk or bun is
// skipped with a line saying how to get it.
const path = require('node:path');
const { ROOT, have, runClient, runMatrix, printTables, meta, writeReport, parseOpts, loadavg } = require('./proto');

const DEFAULTS = { rounds: 3, duration: 5, loops: 1, servers: ['ringnet', 'node', 'bun'], quick: { rounds: 1, duration: 2 } };

function parseWrk(out) {
  const n = /(\d+) requests in ([\d.]+)(m?s)/.exec(out);
  const qps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!n || !qps) return { error: `cannot read wrk's output: ${out.slice(-200)}` };
  const errs = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(out);
  const lat = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1e3 : 1e6) : null;
  };
  return { requests: Number(n[1]), seconds: Number(n[2]) / (n[3] === 'ms' ? 1000 : 1), qps: Number(qps[1]), extra: { p50_us: lat(50), p99_us: lat(99), wrk_errors: errs ? errs[0] : null } };
}

async function main(argv) {
  const opts = parseOpts(argv, DEFAULTS);
  if (!have('wrk')) {
    console.log('bench http: skipped, wrk is not installed (Debian/Ubuntu: apt-get install wrk)');
    return 0;
  }
  const bun = path.join(ROOT, 'node_modules', '.bin', 'bun');
  const all = [
    { key: 'ringnet', label: `ringnet example${opts.loops > 1 ? ` ×${opts.loops}` : ''}`, cmd: (p) => [process.execPath, 'dist/examples/http/main.js', '--port', String(p), '--loops', String(opts.loops)] },
    { key: 'node', label: 'node:http', cmd: (p) => [process.execPath, 'bench/http-node.js', '--port', String(p)] },
    { key: 'bun', label: 'Bun.serve', cmd: (p) => [bun, 'bench/http-bun.js', '--port', String(p)] },
  ];
  const servers = all.filter((s) => opts.servers.includes(s.key));
  if (servers.some((s) => s.key === 'bun') && !have(bun)) {
    console.log('bench http: Bun.serve skipped, node_modules/.bin/bun is missing (npm install: the bun devDependency)');
    servers.splice(servers.findIndex((s) => s.key === 'bun'), 1);
  }
  const cases = [
    { name: 'plain', conns: 50, depth: 1 },
    { name: 'pipelined', conns: 50, depth: 16 },
  ];
  console.log(`bench http: wrk -t1 -c50 -d${opts.duration}s, ${opts.rounds} round(s), load average ${loadavg()}`);
  const { results, load } = await runMatrix({
    name: 'http', servers, cases, rounds: opts.rounds,
    measure: async (server, kase, target) => {
      const url = `http://127.0.0.1:${target.port}/`;
      const cmd = ['wrk', '-t1', '-c50', `-d${opts.duration}s`, '--latency', url];
      if (kase.depth > 1) cmd.splice(4, 0, '-s', path.join(__dirname, 'wrk-pipeline.lua'));
      if (kase.depth > 1) cmd.push('--', String(kase.depth));
      const r = await runClient(cmd, (opts.duration + 20) * 1000);
      return r.error ? r : parseWrk(r.out);
    },
  });
  printTables(results, ['bun', 'node']);
  console.log(`\nload average at start ${load.start}, at end ${load.end}; goal: ringnet CPU µs/req ≤ 0.75× Bun.serve's and ≤ 0.4× node:http's`);
  writeReport('http', { meta: meta('HTTP requests/s (wrk, 13-byte route)', { ...opts, load }), results });
  return results.some((r) => r.servers.some((s) => s.runs.some((x) => x.error))) ? 1 : 0;
}

module.exports = { main };
if (require.main === module) main(process.argv.slice(2)).then((c) => process.exit(c), (e) => { console.error(`bench http: ${e.message}`); process.exit(1); });
