'use strict';
// `npm run bench -- resp [--quick] [--rounds R] [--servers ringnet,redis,node] [--loops K]`
// RESP with redis-benchmark, 50 clients, -t ping_inline,set,get at -P 1 and
// -P 16: the ringnet example (examples/resp) vs redis-server (persistence off)
// vs the same example on node:net. Each test is its own redis-benchmark run so
// the server CPU sampled around it belongs to that test alone. Installs
// nothing; missing redis-benchmark / redis-server are skipped with a line.
const { have, runClient, runMatrix, printTables, meta, writeReport, parseOpts, loadavg } = require('./proto');

// -n per test: about 2-5 s each on the reference machine.
const DEFAULTS = { rounds: 3, requests: { 1: 100000, 16: 1000000 }, loops: 1, servers: ['ringnet', 'redis', 'node'], quick: { rounds: 1, requests: { 1: 30000, 16: 300000 } } };
const TESTS = ['ping_inline', 'set', 'get'];
const CSV_NAME = { ping_inline: 'PING_INLINE', set: 'SET', get: 'GET' };

async function main(argv) {
  const opts = parseOpts(argv, DEFAULTS);
  if (!have('redis-benchmark')) {
    console.log('bench resp: skipped, redis-benchmark is not installed (Debian/Ubuntu: apt-get install redis-tools)');
    return 0;
  }
  const all = [
    { key: 'ringnet', label: `ringnet example${opts.loops > 1 ? ` ×${opts.loops}` : ''}`, cmd: (p) => [process.execPath, 'dist/examples/resp/main.js', '--port', String(p), '--loops', String(opts.loops)] },
    { key: 'redis', label: 'redis-server', cmd: (p) => ['redis-server', '--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--logfile', ''] },
    // not in the default list: --servers ringnet,pool compares one loop (the store on it) with 2 loops (the store behind a pool worker)
    { key: 'pool', label: 'ringnet ×2, pool store', cmd: (p) => [process.execPath, 'dist/examples/resp/main.js', '--port', String(p), '--loops', '2'] },
    { key: 'node', label: 'example on node:net', cmd: (p) => [process.execPath, 'dist/examples/resp/node-main.js', '--port', String(p)] },
  ];
  const servers = all.filter((s) => opts.servers.includes(s.key));
  if (servers.some((s) => s.key === 'redis') && !have('redis-server')) {
    console.log('bench resp: redis-server skipped, it is not installed (apt-get install redis-server)');
    servers.splice(servers.findIndex((s) => s.key === 'redis'), 1);
  }
  const cases = [];
  for (const P of [1, 16]) for (const t of TESTS) cases.push({ name: `${t} -P ${P}`, conns: 50, depth: P, test: t, P });
  console.log(`bench resp: redis-benchmark -c 50, ${opts.rounds} round(s), load average ${loadavg()}`);
  const { results, load } = await runMatrix({
    name: 'resp', servers, cases, rounds: opts.rounds,
    measure: async (server, kase, target) => {
      const n = opts.requests[kase.P];
      const t0 = process.hrtime.bigint();
      const r = await runClient(['redis-benchmark', '-h', '127.0.0.1', '-p', String(target.port), '-c', '50', '-n', String(n), '-P', String(kase.P), '-t', kase.test, '--csv'], 120000);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.error) return r;
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
      const line = r.out.split('\n').find((l) => l.startsWith(`"${CSV_NAME[kase.test]}"`));
      if (!line) return { error: `no ${CSV_NAME[kase.test]} line in redis-benchmark's output: ${r.out.slice(-200)}` };
      const f = line.split(',').map((x) => x.replace(/"/g, ''));
      return { requests: n, seconds, qps: Number(f[1]), extra: { p50_us: Number(f[4]) * 1000, p99_us: Number(f[6]) * 1000 } };
    },
  });
  printTables(results, ['redis', 'node']);
  console.log(`\nload average at start ${load.start}, at end ${load.end}; goal: ringnet CPU µs/req ≤ 1.0× redis-server's at -P 1, ≤ 1.25× at -P 16`);
  writeReport('resp', { meta: meta('RESP requests/s (redis-benchmark)', { ...opts, load }), results });
  return results.some((r) => r.servers.some((s) => s.runs.some((x) => x.error))) ? 1 : 0;
}

module.exports = { main };
if (require.main === module) main(process.argv.slice(2)).then((c) => process.exit(c), (e) => { console.error(`bench resp: ${e.message}`); process.exit(1); });
