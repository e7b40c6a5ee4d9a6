'use strict';
// TLS echo benchmark (issue 11): ringnet's tls:// listener against a C + OpenSSL
// floor (bench/c_tls_echo.c) and node:tls, driven by a native TLS load generator
// (bench/tls_load.c: sessions resumed so handshakes do not dominate; a
// handshakes row makes full handshakes only). Server on CPU 0, load on CPU 1,
// servers alternated, medians; server CPU µs per request from /proc.
//
// usage: node bench/tls.js [--quick] [--rounds N] [--duration S] [--warmup S]
//          [--shapes 50x4KiB,50x64KiB,handshakes] [--servers c,ringnet,uring,node]
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { track, killAll, RESULTS } = require('./common');
const { build } = require('./build.js');
const { startServer, stopServer, median, pinned, onPath } = require('./echo.js');

const ROOT = path.resolve(__dirname, '..');
const SHAPES = [
  { name: '50x4KiB', conns: 50, size: 4096 },
  { name: '50x64KiB', conns: 50, size: 65536 },
  { name: 'handshakes', conns: 50, size: 1, handshakes: true },
];

function parseArgs(argv) {
  const o = { quick: false, rounds: null, duration: null, warmup: null, shapes: null, servers: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Math.max(1, Math.floor(Number(value())));
    else if (a === '--duration') o.duration = Number(value());
    else if (a === '--warmup') o.warmup = Number(value());
    else if (a === '--shapes') o.shapes = value().split(',').filter(Boolean);
    else if (a === '--servers') o.servers = value().split(',').filter(Boolean);
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  o.rounds ??= o.quick ? 1 : 3;
  o.duration ??= o.quick ? 1.5 : 4;
  o.warmup ??= o.quick ? 0.3 : 1;
  return o;
}

// An EC P-256 certificate for 127.0.0.1, made for this run.
function makeCert() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-tls-bench-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  return { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

function serverTable(bin, cert) {
  const js = path.join(__dirname, 'tls-echo-servers.js');
  const dist = fs.existsSync(path.join(ROOT, 'dist', 'index.js')) ? null : 'dist/ not built (npm run build:ts)';
  return [
    { key: 'c', label: 'c-floor', cmd: [bin.c_tls_echo, cert.cert, cert.key] },
    { key: 'ringnet', label: 'ringnet', cmd: [process.execPath, js, 'ringnet', cert.cert, cert.key], missing: dist },
    { key: 'uring', label: 'ringnet io_uring', cmd: [process.execPath, js, 'ringnet', cert.cert, cert.key, '--backend', 'io_uring'], missing: dist, optional: true },
    { key: 'node', label: 'node:tls', cmd: [process.execPath, js, 'node', cert.cert, cert.key] },
  ];
}

function runLoad(bin, shape, target, o, pin) {
  const cmd = [bin.tls_load, '-w', String(o.warmup), '-P', String(target.child.pid), ...(shape.handshakes ? ['-H'] : []),
    target.host, String(target.port), String(shape.conns), String(shape.size), String(o.duration)];
  const [file, ...args] = pinned('1', cmd, pin);
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), (o.warmup + o.duration + 30) * 1000);
  return new Promise((resolve) => {
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      let r = null;
      try {
        r = JSON.parse(stdout.trim().split('\n').pop());
      } catch {}
      const why = stderr.trim().split('\n').slice(0, 3).join('; ');
      if (!r) resolve({ error: `tls_load ${sig || `exit ${code}`}, no result${why ? `: ${why}` : ''}` });
      else if (code !== 0 || r.errors) resolve({ result: r, error: `tls_load reported ${r.errors} error(s): ${why}` });
      else resolve({ result: r });
    });
  });
}

const fmt = (n, d) => (n == null ? '—' : n.toFixed(d));
const fmtInt = (n) => (n == null ? '—' : Math.round(n).toLocaleString('en-US'));
const ratio = (a, b) => (a == null || !b ? '—' : `${(a / b).toFixed(2)}x`);

function printTable(shape, rows) {
  const by = Object.fromEntries(rows.map((r) => [r.key, r.s]));
  const what = shape.handshakes ? 'handshakes/s' : 'QPS';
  const head = ['server', `${what} (median)`, 'CPU µs/req', 'p50 µs', 'p99 µs', 'resumed', 'vs node:tls', 'vs C QPS', 'CPU vs C'];
  const body = rows.map(({ label, s, skipped }) =>
    s ? [label, fmtInt(s.qps), fmt(s.cpu, 2), fmt(s.p50, 0), fmt(s.p99, 0), shape.handshakes ? '—' : `${s.resumed}/${shape.conns}`,
      ratio(s.qps, by.node?.qps), ratio(s.qps, by.c?.qps), ratio(s.cpu, by.c?.cpu)] : [label, skipped ?? 'no successful run', '', '', '', '', '', '', '']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (c) => c.map((x, i) => (i === 0 ? String(x).padEnd(w[i]) : String(x).padStart(w[i]))).join('  ');
  console.log(`\n${shape.name}: ${shape.conns} connections${shape.handshakes ? ', a full handshake + 1-byte echo per request' : ` × ${shape.size} B echo, sessions resumed`}`);
  console.log(line(head));
  for (const r of body) console.log(line(r));
}

async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (o.help) {
    console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(7, 9).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    return 0;
  }
  if (!onPath('openssl')) throw new Error('the TLS bench needs the openssl CLI (to make its certificate)');
  const bin = build({ tls: true });
  const cert = makeCert();
  const shapes = o.shapes ? o.shapes.map((n) => {
    const s = SHAPES.find((x) => x.name.toLowerCase() === n.toLowerCase());
    if (!s) throw new Error(`unknown shape ${n}; known: ${SHAPES.map((x) => x.name).join(', ')}`);
    return s;
  }) : SHAPES;
  const all = serverTable(bin, cert);
  const servers = o.servers ? o.servers.map((k) => {
    const s = all.find((x) => x.key === k);
    if (!s) throw new Error(`unknown server ${k}; known: ${all.map((x) => x.key).join(', ')}`);
    return s;
  }) : all.filter((s) => !s.optional);
  const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const pin = cpus >= 2 && !!onPath('taskset');
  if (!pin) console.log('bench: WARNING: running unpinned (needs 2 CPUs and taskset)');
  for (const s of servers) s.cpuPlan = { server: '0' };
  console.log(`bench: tls, ${o.rounds} rounds × ${shapes.length} shapes × ${servers.length} servers, ${o.warmup}+${o.duration} s each; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const runs = {};
  const skipped = {};
  for (const s of servers) if (s.missing) skipped[s.key] = `skipped: ${s.missing}`;
  for (const sh of shapes) runs[sh.name] = Object.fromEntries(servers.map((s) => [s.key, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (const shape of shapes) {
      const order = servers.filter((s) => !skipped[s.key]);
      const rotated = order.slice(round % order.length).concat(order.slice(0, round % order.length));
      for (const server of rotated) {
        const tag = `[${round + 1}/${o.rounds} ${shape.name}] ${server.label.padEnd(16)}`;
        let target;
        try {
          target = await startServer(server, pin);
        } catch (err) {
          skipped[server.key] = `failed to start: ${err.message.split('\n')[0]}`;
          console.log(`${tag} FAILED TO START: ${err.message}`);
          continue;
        }
        let out;
        try {
          out = await runLoad(bin, shape, target, o, pin);
        } finally {
          await stopServer(target.child);
        }
        const r = out.result;
        if (out.error || !r) {
          console.log(`${tag} ERROR: ${out.error}`);
          runs[shape.name][server.key].push({ error: out.error });
          continue;
        }
        const run = { qps: r.qps, cpu: r.server_cpu_us >= 0 && r.msgs ? r.server_cpu_us / r.msgs : null, p50: r.p50_us, p99: r.p99_us, resumed: r.resumed, client: r.client_cpu_pct };
        runs[shape.name][server.key].push(run);
        console.log(`${tag} ${fmtInt(run.qps).padStart(9)} ${shape.handshakes ? 'hs/s' : 'req/s'}  ${fmt(run.cpu, 2)} CPU µs/req  p50 ${fmt(run.p50, 0)} µs  client ${fmt(run.client, 0)}%`);
      }
    }
  }
  const results = shapes.map((shape) => ({
    shape,
    rows: servers.map((s) => {
      const ok = runs[shape.name][s.key].filter((x) => !x.error);
      const sum = ok.length ? { qps: median(ok.map((x) => x.qps)), cpu: median(ok.map((x) => x.cpu)), p50: median(ok.map((x) => x.p50)), p99: median(ok.map((x) => x.p99)), resumed: Math.min(...ok.map((x) => x.resumed)) } : null;
      return { key: s.key, label: s.label, s: sum, skipped: skipped[s.key], runs: runs[shape.name][s.key] };
    }),
  }));
  for (const r of results) printTable(r.shape, r.rows);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`\nmedians over ${o.rounds} round(s); CPU µs/req = server CPU (user+sys, /proc) per request; load average now ${load}`);
  fs.mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const report = { meta: { date: new Date().toISOString(), commit: git.status === 0 ? git.stdout.trim() : null, node: process.version, cpus, pinned: pin, loadavg: os.loadavg(), options: o }, results };
  const file = path.join(RESULTS, `tls-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS, 'tls-latest.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`bench: wrote ${file}`);
  return results.some((r) => r.rows.some((x) => x.runs.some((y) => y.error))) ? 1 : 0;
}

module.exports = { main };
if (require.main === module) {
  main().then((c) => process.exit(c), (err) => {
    console.error(`bench: ${err.message}`);
    killAll();
    process.exit(1);
  });
}
