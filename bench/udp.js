'use strict';
// UDP echo benchmark (issue 10): ringnet's udp:// (epoll and io_uring) against
// node:dgram and a C floor (c_udp_echo.c: epoll + recvmmsg/sendmmsg), driven by a
// native load generator (udp_load.c). Server pinned to CPU 0, load to CPU 1,
// servers alternated each round, medians; server CPU µs per echoed datagram from
// /proc/<pid>/stat.
//
// usage: node bench/udp.js [--quick] [--rounds N] [--duration S] [--warmup S]
//          [--servers c,ringnet,uring,node] [--flows N] [--size B] [--depth N]
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { track, killAll, RESULTS } = require('./common');
const { build } = require('./build.js');

const ROOT = path.resolve(__dirname, '..');
const START_TIMEOUT_MS = 10000;

function parseArgs(argv) {
  const o = { quick: false, rounds: null, duration: null, warmup: null, servers: null, flows: 16, size: 64, depth: 32 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const n = Number(argv[++i]);
      if (!(n > 0)) throw new Error(`${a} needs a positive number`);
      return n;
    };
    if (a === 'udp') continue; // `npm run bench -- udp …`
    else if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Math.floor(num());
    else if (a === '--duration') o.duration = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--flows') o.flows = Math.floor(num());
    else if (a === '--size') o.size = Math.floor(num());
    else if (a === '--depth') o.depth = Math.floor(num());
    else if (a === '--servers') o.servers = String(argv[++i] || '').split(',').filter(Boolean);
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  o.rounds ??= o.quick ? 1 : 5;
  o.duration ??= o.quick ? 1 : 4;
  o.warmup ??= o.quick ? 0.3 : 1;
  return o;
}

function servers(bin) {
  const node = process.execPath;
  return [
    { key: 'c', label: 'C floor', cmd: [bin.c_udp_echo] },
    { key: 'ringnet', label: 'ringnet', cmd: [node, path.join(__dirname, 'udp-ringnet.js')], env: { RINGNET_BACKEND: 'epoll' } },
    { key: 'uring', label: 'ringnet io_uring', cmd: [node, path.join(__dirname, 'udp-ringnet.js')], env: { RINGNET_BACKEND: 'io_uring' } },
    { key: 'node', label: 'node:dgram', cmd: [node, path.join(__dirname, 'udp-node.js')] },
  ];
}

function start(server, pin) {
  const cmd = pin ? ['taskset', '-c', '0', ...server.cmd] : server.cmd;
  const child = track(spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, ...server.env } }));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "listening on" line within ${START_TIMEOUT_MS} ms: ${err.trim()}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`exited (${sig || code}) before listening: ${err.trim()}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({ child, port: Number(m[1]) });
    });
  });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(t);
}

function load(bin, target, o, pin) {
  const cmd = [bin.udp_load, '-w', String(o.warmup), '-P', String(target.child.pid), '127.0.0.1', String(target.port),
    String(o.flows), String(o.size), String(o.depth), String(o.duration)];
  const full = pin ? ['taskset', '-c', '1', ...cmd] : cmd;
  const child = track(spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), (o.warmup + o.duration + 20) * 1000);
  return new Promise((resolve) => child.on('close', () => {
    clearTimeout(timer);
    try {
      resolve(JSON.parse(out.trim().split('\n').pop()));
    } catch {
      resolve(null);
    }
  }));
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (o.help) {
    console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(7, 9).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    return 0;
  }
  if (process.platform !== 'linux') {
    console.log('bench udp: the C floor and the load generator use recvmmsg/sendmmsg (Linux only): nothing to run here');
    return 0;
  }
  const bin = build();
  const all = servers(bin);
  const list = o.servers ? o.servers.map((k) => {
    const s = all.find((x) => x.key === k);
    if (!s) throw new Error(`unknown server ${k}; known: ${all.map((x) => x.key).join(', ')}`);
    return s;
  }) : all;
  const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const pin = cpus >= 2 && ['0', '1'].every((c) => spawnSync('taskset', ['-c', c, 'true']).status === 0);
  if (!pin) console.log('bench udp: WARNING: unpinned (needs taskset and 2 CPUs)');
  const load0 = os.loadavg();
  console.log(`bench udp: ${o.rounds} rounds × ${list.length} servers, ${o.flows} flows × ${o.size} B × ${o.depth} in flight, ` +
    `${o.warmup}+${o.duration} s each${pin ? '; server on CPU 0, load on CPU 1' : ''}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  const runs = Object.fromEntries(list.map((s) => [s.key, []]));
  let failed = 0;
  for (let round = 0; round < o.rounds; round++) {
    const order = list.slice(round % list.length).concat(list.slice(0, round % list.length));
    for (const s of order) {
      let t;
      try {
        t = await start(s, pin);
      } catch (e) {
        console.log(`[${round + 1}/${o.rounds}] ${s.label}: FAILED TO START: ${e.message}`);
        failed++;
        continue;
      }
      let r;
      try {
        r = await load(bin, t, o, pin);
      } finally {
        await stop(t.child);
      }
      if (!r) {
        console.log(`[${round + 1}/${o.rounds}] ${s.label}: load generator gave no result`);
        failed++;
        continue;
      }
      runs[s.key].push(r);
      console.log(`[${round + 1}/${o.rounds}] ${s.label.padEnd(16)} ${Math.round(r.dps).toLocaleString('en-US').padStart(9)} datagrams/s  ` +
        `${r.cpu_us_per_dgram.toFixed(2)} CPU µs/dgram  lost ${r.lost}  (server ${r.server_cpu_pct.toFixed(0)}%, load ${r.client_cpu_pct.toFixed(0)}%)`);
    }
  }
  const sum = Object.fromEntries(list.map((s) => {
    const rs = runs[s.key];
    return [s.key, rs.length ? {
      runs: rs.length, dps: median(rs.map((r) => r.dps)), cpu_us_per_dgram: median(rs.map((r) => r.cpu_us_per_dgram)),
      lost: median(rs.map((r) => r.lost)), server_cpu_pct: median(rs.map((r) => r.server_cpu_pct)), client_cpu_pct: median(rs.map((r) => r.client_cpu_pct)),
    } : null];
  }));
  const ratio = (a, b) => (a == null || !b ? '—' : `${(a / b).toFixed(2)}x`);
  const head = ['server', 'datagrams/s', 'CPU µs/dgram', 'lost', 'server CPU', 'vs node:dgram', 'vs C floor', 'CPU vs C'];
  const body = list.map((s) => {
    const x = sum[s.key];
    if (!x) return [s.label, 'no run', '', '', '', '', '', ''];
    return [s.label, Math.round(x.dps).toLocaleString('en-US'), x.cpu_us_per_dgram.toFixed(2), String(Math.round(x.lost)), `${x.server_cpu_pct.toFixed(0)}%`,
      ratio(x.dps, sum.node?.dps), ratio(x.dps, sum.c?.dps), ratio(x.cpu_us_per_dgram, sum.c?.cpu_us_per_dgram)];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  const load1 = os.loadavg();
  console.log(`\nudp echo: ${o.flows} flows × ${o.size} B, ${o.depth} in flight each (medians of ${o.rounds})`);
  console.log(line(head));
  for (const r of body) console.log(line(r));
  console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}; ` +
    'lost = datagrams a flow gave up on after 50 ms without a reply (drops, or a stalled CPU on a busy machine)');
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `udp-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus, pinned: pin, loadavg: { before: load0, after: load1 }, options: o, summary: sum, runs }, null, 2) + '\n');
  console.log(`bench udp: wrote ${file}`);
  return failed ? 1 : 0;
}

module.exports = { main };
if (require.main === module) {
  main().then((c) => process.exit(c), (e) => {
    console.error(`bench udp: ${e.message}`);
    killAll();
    process.exit(1);
  });
}
