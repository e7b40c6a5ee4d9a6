'use strict';
// Shared harness of the protocol benches (bench/http.js, bench/resp.js): the
// server on CPU 0 and the real client (wrk, redis-benchmark) on CPU 1 with
// taskset, servers alternated within every round, medians over rounds, and the
// server's CPU time per request from /proc/PID/stat (utime + stime, all its
// threads) sampled just before and after each measured run.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { track, killAll, RESULTS } = require('./common');

const ROOT = path.resolve(__dirname, '..');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;


function have(cmd) {
  if (cmd.includes('/')) return fs.existsSync(cmd);
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const canPin = os.cpus().length >= 2 && have('taskset');
const pinned = (cpu, cmd) => (canPin ? ['taskset', '-c', String(cpu), ...cmd] : cmd);

/** A free TCP port on 127.0.0.1 (the server is told to use it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Start `cmd(port)` on CPU 0; resolves once it accepts connections. */
async function startServer(server) {
  const port = await freePort();
  const [file, ...args] = pinned(0, server.cmd(port));
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, ...server.env } }));
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${server.label} exited before listening: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    if (await canConnect(port)) return { child, port, stderr: () => stderr };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${server.label} did not listen within 15 s`);
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Server CPU time so far in µs (all threads), or -1. */
function cpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK; // fields 14, 15 (utime, stime)
  } catch {
    return -1;
  }
}

/** Run a client command on CPU 1; resolves with its stdout. */
function runClient(cmd, limitMs) {
  const [file, ...args] = pinned(1, cmd);
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => {
    child.on('error', (e) => resolve({ error: e.message }));
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve(code === 0 ? { out } : { out, error: `${cmd[0]} ${sig || `exit ${code}`}: ${err.trim().split('\n').slice(-2).join(' | ')}` });
    });
  });
}

const round2 = (x) => (x == null ? null : Math.round(x * 100) / 100);
function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

/**
 * Run every case on every server, servers alternated (rotated) each round.
 * `measure(server, kase, target)` runs the client once and returns
 * { requests, seconds, qps, extra? } or { error }.
 */
async function runMatrix({ name, servers, cases, rounds, measure }) {
  const runs = {};
  const skipped = {};
  for (const c of cases) for (const s of servers) runs[`${c.name}/${s.key}`] = [];
  const load0 = loadavg();
  for (let round = 0; round < rounds; round++) {
    const order = servers.slice(round % servers.length).concat(servers.slice(0, round % servers.length));
    for (const server of order) {
      if (skipped[server.key]) continue;
      let target;
      try {
        target = await startServer(server);
      } catch (e) {
        skipped[server.key] = e.message;
        console.log(`[${round + 1}/${rounds}] ${server.label}: FAILED TO START: ${e.message}`);
        continue;
      }
      try {
        for (const kase of cases) {
          const c0 = cpuUs(target.child.pid);
          const r = await measure(server, kase, target);
          const c1 = cpuUs(target.child.pid);
          const tag = `[${round + 1}/${rounds} ${kase.name}] ${server.label.padEnd(16)}`;
          if (r.error || !r.requests) {
            console.log(`${tag} ERROR: ${r.error || 'no requests'}`);
            runs[`${kase.name}/${server.key}`].push({ round, error: r.error || 'no requests' });
            continue;
          }
          const run = { round, qps: r.qps, requests: r.requests, seconds: r.seconds, cpu_us_per_req: c0 >= 0 && c1 >= 0 ? (c1 - c0) / r.requests : null, server_cpu_pct: c0 >= 0 ? (c1 - c0) / r.seconds / 1e4 : null, ...r.extra };
          runs[`${kase.name}/${server.key}`].push(run);
          console.log(`${tag} ${Math.round(run.qps).toLocaleString('en-US').padStart(11)} req/s  ${run.cpu_us_per_req?.toFixed(2)} CPU µs/req  (server ${run.server_cpu_pct?.toFixed(0)}%)`);
        }
      } finally {
        await stopServer(target.child);
      }
    }
  }
  const load1 = loadavg();
  const results = cases.map((kase) => ({
    shape: { name: kase.name, conns: kase.conns, depth: kase.depth },
    servers: servers.map((s) => {
      const rs = runs[`${kase.name}/${s.key}`].filter((x) => !x.error);
      const summary = rs.length ? { runs: rs.length, qps: round2(median(rs.map((x) => x.qps))), cpu_us_per_req: round2(median(rs.map((x) => x.cpu_us_per_req))), p50_us: round2(median(rs.map((x) => x.p50_us))), p99_us: round2(median(rs.map((x) => x.p99_us))) } : null;
      return { key: s.key, label: s.label, summary, skipped: skipped[s.key], runs: runs[`${kase.name}/${s.key}`] };
    }),
  }));
  return { results, load: { start: load0, end: load1 } };
}

/** Print one table per case, ratios of CPU µs/req against `refKeys`. */
function printTables(results, refKeys) {
  for (const { shape, servers } of results) {
    const refs = refKeys.map((k) => servers.find((s) => s.key === k)).filter((s) => s && s.summary);
    const head = ['server', 'req/s (median)', 'CPU µs/req', ...refs.map((r) => `CPU vs ${r.label}`)];
    const rows = servers.map((s) => {
      if (!s.summary) return [s.label, s.skipped ? `skipped: ${s.skipped}` : 'no successful run', '', ...refs.map(() => '')];
      return [s.label, Math.round(s.summary.qps).toLocaleString('en-US'), s.summary.cpu_us_per_req?.toFixed(2) ?? '—',
        ...refs.map((r) => (s.summary.cpu_us_per_req && r.summary.cpu_us_per_req ? `${(s.summary.cpu_us_per_req / r.summary.cpu_us_per_req).toFixed(2)}x` : '—'))];
    });
    const w = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => r[2] !== '').map((r) => String(r[i]).length)));
    const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
    console.log(`\n${shape.name}: ${shape.conns} connections, ${shape.depth} deep`);
    console.log(line(head));
    for (const r of rows) console.log(r[2] === '' ? `${String(r[0]).padEnd(w[0])}  ${r[1]}` : line(r));
  }
}

function meta(title, opts) {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return { title, date: new Date().toISOString(), commit: git.status === 0 ? git.stdout.trim() : null, node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`, cpu: os.cpus()[0]?.model ?? null, cpus: os.cpus().length, pinned: canPin, options: opts };
}

/** Write the JSON report and an SVG chart under bench/results/. */
function writeReport(prefix, report) {
  const { writeSvg } = require('./svg');
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${prefix}-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  writeSvg(path.join(RESULTS, `${prefix}-latest.svg`), report);
  console.log(`bench: wrote ${file} and ${path.join(RESULTS, `${prefix}-latest.svg`)}`);
}

function parseOpts(argv, defaults) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') Object.assign(o, defaults.quick);
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--duration') o.duration = Number(argv[++i]);
    else if (a === '--servers') o.servers = argv[++i].split(',');
    else if (a === '--loops') o.loops = Number(argv[++i]);
  }
  delete o.quick;
  return o;
}

module.exports = { ROOT, have, runClient, runMatrix, printTables, meta, writeReport, parseOpts, loadavg, canPin, killAll };
