'use strict';
// Echo benchmark: ringnet against a C epoll floor, node:net and (when installed)
// Bun, over several message shapes. See bench/README.md for the method.
//
// usage: node bench/echo.js [--quick] [--rounds N] [--duration S] [--warmup S]
//          [--shapes 50x64B,...] [--servers c,ringnet,uring,node,bun] [--loops N | 1,2,4 (scaling table)]
//          [--threads N] [--baseline DIR]
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { track, killAll, RESULTS } = require('./common');
const { build } = require('./build.js');
const { writeSvg } = require('./svg.js');

const ROOT = path.resolve(__dirname, '..');
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 2000;
// A client using this much of its core may be what limits QPS, not the server.
const CLIENT_BOUND_PCT = 95;
// Other processes using this much CPU during a run make it noisy.
const NOISY_OTHER_PCT = 10;

const SHAPES = [
  { name: '50x64B', conns: 50, size: 64, depth: 1 },
  { name: '500x64B', conns: 500, size: 64, depth: 1 },
  { name: '50x4KiB', conns: 50, size: 4096, depth: 1 },
  { name: '50x64KiB', conns: 50, size: 65536, depth: 1 },
  { name: '50x64Bx16', conns: 50, size: 64, depth: 16 },
];

function parseArgs(argv) {
  const opts = { quick: false, rounds: null, duration: null, warmup: null, shapes: null, servers: null, loops: null, threads: 1, baseline: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const number = () => {
      const n = Number(value());
      if (!(n > 0)) throw new Error(`${a} needs a positive number`);
      return n;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--rounds') opts.rounds = Math.floor(number());
    else if (a === '--duration') opts.duration = number();
    else if (a === '--warmup') opts.warmup = number();
    else if (a === '--shapes') opts.shapes = value().split(',').filter(Boolean);
    else if (a === '--servers') opts.servers = value().split(',').filter(Boolean);
    else if (a === '--loops') {
      opts.loops = value().split(',').map((x) => Math.floor(Number(x)));
      if (!opts.loops.length || opts.loops.some((n) => !(n > 0))) throw new Error('--loops needs N or a list like 1,2,4');
    }
    else if (a === '--threads') opts.threads = Math.floor(number());
    else if (a === '--baseline') opts.baseline = path.resolve(value());
    else if (a === '--help' || a === '-h') opts.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  opts.rounds ??= opts.quick ? 2 : 5;
  opts.duration ??= opts.quick ? 2 : 5;
  opts.warmup ??= opts.quick ? 0.5 : 1;
  return opts;
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;
}

function serverTable(opts, bin) {
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const bun = onPath('bun');
  const hostPort = ['--host', HOST, '--port', '0'];
  // One ringnet row per loop count: `--loops 1,2,4` makes a scaling table.
  const ringnets = (opts.loops || [1]).map((k, i) => ({
    key: i === 0 ? 'ringnet' : `ringnet-x${k}`,
    label: (opts.loops || [1]).length > 1 || k > 1 ? `ringnet×${k}` : 'ringnet',
    cmd: [process.execPath, cli, 'echo', ...hostPort, ...(k > 1 ? ['--loops', String(k), '--pin'] : [])],
    loops: k,
    missing: fs.existsSync(cli) ? null : 'dist/cli.js not found (build with `npm run build:ts`)',
  }));
  return [
    { key: 'c', label: 'c-floor', cmd: [bin.c_echo, '0'] },
    ...ringnets,
    // The same server on the io_uring backend (issue 9); fails to start, and is
    // skipped with the reason, where the kernel or seccomp refuses io_uring.
    {
      key: 'uring', label: 'ringnet io_uring', cmd: [process.execPath, cli, 'echo', ...hostPort, '--backend', 'io_uring'],
      missing: fs.existsSync(cli) ? null : 'dist/cli.js not found (build with `npm run build:ts`)',
    },
    // --baseline DIR: the same ringnet server from another built checkout (DIR/dist,
    // DIR/build), alternated with this one in the same run: a before/after ratio.
    ...(opts.baseline ? [{
      key: 'base', label: 'ringnet@baseline', cmd: [process.execPath, path.join(opts.baseline, 'dist', 'cli.js'), 'echo', ...hostPort],
      missing: fs.existsSync(path.join(opts.baseline, 'dist', 'cli.js')) ? null : `${opts.baseline}/dist/cli.js not found`,
    }] : []),
    { key: 'node', label: 'node:net', cmd: [process.execPath, path.join(__dirname, 'node-echo.js'), ...hostPort] },
    {
      key: 'bun', label: 'bun', cmd: [bun, path.join(__dirname, 'bun-echo.js'), ...hostPort],
      missing: bun ? null : '`bun` is not on PATH', optional: true,
    },
    // Issue 12, only when named in --servers: the messages as fixed-size frames, cut
    // natively (codec + onMessage + writeFrame) or by an onTraffic loop.
    ...['framed', 'manual'].map((mode) => ({
      key: mode, label: mode === 'framed' ? 'ringnet codec' : 'ringnet manual', explicit: true,
      cmdFor: (shape) => [process.execPath, path.join(__dirname, 'codec-echo.js'), '--mode', mode, '--size', String(shape.size), ...hostPort],
      missing: fs.existsSync(cli) ? null : 'dist/cli.js not found (build with `npm run build:ts`)',
    })),
  ];
}


function pinned(cpuList, cmd, pin) {
  return pin ? ['taskset', '-c', String(cpuList), ...cmd] : cmd;
}

// CPUs for a server and its client: a server with k loops gets CPUs 0..k-1 when
// the machine has more than k, the client the rest; otherwise CPU 0 and CPU 1.
function cpuPlan(server, cpus) {
  const k = server.loops && server.loops < cpus ? server.loops : 1;
  return { server: k === 1 ? '0' : `0-${k - 1}`, client: k + 1 >= cpus ? String(k) : `${k}-${cpus - 1}` };
}

function startServer(server, pin, shape) {
  const [file, ...args] = pinned(server.cpuPlan.server, server.cmdFor ? server.cmdFor(shape) : server.cmd, pin);
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT }));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      const tail = stderr.trim() ? `\n    stderr: ${stderr.trim().split('\n').slice(-5).join('\n    ')}` : '';
      reject(new Error(`${why}${tail}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" line within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.on('error', (err) => fail(`spawn failed: ${err.message}`));
    const onExit = (code, sig) => fail(`exited (${sig || `code ${code}`}) before listening`);
    child.on('exit', onExit);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /listening on tcp:\/\/(\S+):(\d+)/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout.removeAllListeners('data');
      child.stdout.resume(); // keep draining so a chatty server never blocks on its pipe
      resolve({ child, host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), stderr: () => stderr });
    });
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function runLoadgen(bin, shape, target, opts, pin) {
  const cmd = [bin.loadgen, '-w', String(opts.warmup), '-P', String(target.child.pid), '-t', String(opts.threads),
    target.host, String(target.port), String(shape.conns), String(shape.size), String(shape.depth), String(opts.duration)];
  const [file, ...args] = pinned(target.clientCpus, cmd, pin);
  const child = track(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  // Connecting 500 sockets to a slow server can take a while, but never this long.
  const limitMs = (opts.warmup + opts.duration + 30) * 1000;
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ error: `loadgen: ${err.message}` }));
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop();
      let result = null;
      try {
        result = JSON.parse(line);
      } catch {}
      const why = stderr.trim().split('\n').slice(0, 3).join('; ');
      if (!result) resolve({ error: `loadgen ${sig || `exit ${code}`}, no result${why ? `: ${why}` : ''}` });
      else if (code !== 0 || result.errors) resolve({ result, error: `loadgen reported ${result.errors} error(s): ${why}` });
      else resolve({ result });
    });
  });
}

const round2 = (x) => (x == null ? null : Math.round(x * 100) / 100);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return round2(s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2);
};

function summarize(runs) {
  const ok = runs.filter((r) => !r.error);
  if (!ok.length) return null;
  const qps = ok.map((r) => r.qps);
  const med = median(qps);
  return {
    runs: ok.length,
    failed: runs.length - ok.length,
    qps: med,
    qps_spread_pct: med ? round2(((Math.max(...qps) - Math.min(...qps)) / med) * 100) : 0,
    cpu_us_per_req: median(ok.map((r) => r.cpu_us_per_req)),
    user_us_per_req: median(ok.map((r) => r.user_us_per_req)),
    p50_us: median(ok.map((r) => r.p50_us)),
    p99_us: median(ok.map((r) => r.p99_us)),
    server_cpu_pct: median(ok.map((r) => r.server_cpu_pct)),
    client_cpu_pct: median(ok.map((r) => r.client_cpu_pct)),
  };
}

const fmtInt = (n) => (n == null ? '—' : Math.round(n).toLocaleString('en-US'));
const fmt = (n, digits) => (n == null ? '—' : n.toFixed(digits));
const ratio = (a, b) => (a == null || !b ? '—' : `${(a / b).toFixed(2)}x`);

// CPU µs/req over the C floor's, paired by round (each round runs the servers one
// after another), then the median of those ratios: on a shared host whose speed
// drifts between rounds this cancels the drift a ratio of medians keeps.
function pairedCpuRatio(runs, floorRuns) {
  if (!floorRuns) return null;
  const floor = new Map(floorRuns.filter((r) => !r.error && r.cpu_us_per_req).map((r) => [r.round, r.cpu_us_per_req]));
  return median(runs.filter((r) => !r.error && floor.has(r.round)).map((r) => r.cpu_us_per_req / floor.get(r.round)));
}

function printTable(shape, rows) {
  const head = ['server', 'QPS (median)', 'spread', 'CPU µs/req', 'user µs', 'p50 µs', 'p99 µs', 'vs node:net', 'vs C floor', 'CPU vs C'];
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r.summary]));
  const body = rows.map(({ label, summary: s, skipped, runs }) => {
    if (!s) return [label, skipped || `no successful run (${runs.length} failed, see above)`, '', '', '', '', '', '', '', ''];
    const bound = s.client_cpu_pct >= CLIENT_BOUND_PCT ? '*' : '';
    const paired = s.cpu_vs_c_paired;
    return [label, fmtInt(s.qps) + bound, `${fmt(s.qps_spread_pct, 1)}%`, fmt(s.cpu_us_per_req, 2), fmt(s.user_us_per_req, 2),
      fmt(s.p50_us, 0), fmt(s.p99_us, 0), ratio(s.qps, byKey.node?.qps), ratio(s.qps, byKey.c?.qps), paired == null ? '—' : `${paired.toFixed(2)}x`];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.filter((r) => r[2] !== '').map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(`\n${shape.name}: ${shape.conns} connections × ${shape.size} B, ${shape.depth} in flight each`);
  console.log(line(head));
  for (const r of body) console.log(r[2] === '' ? `${String(r[0]).padEnd(widths[0])}  ${r[1]}` : line(r));
}

async function main(argv = process.argv.slice(2)) {
  const opts = parseArgs(argv);
  if (opts.help) {
    console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(4, 7).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    return 0;
  }
  const shapes = opts.shapes ? opts.shapes.map((n) => {
    const s = SHAPES.find((x) => x.name.toLowerCase() === n.toLowerCase());
    if (!s) throw new Error(`unknown shape ${n}; known: ${SHAPES.map((x) => x.name).join(', ')}`);
    return s;
  }) : SHAPES;

  const bin = build();
  const all = serverTable(opts, bin);
  const wanted = opts.servers
    ? opts.servers.flatMap((n) => {
      // `ringnet` names every ringnet row (one per --loops entry).
      const s = all.filter((x) => x.key === n || x.label === n || x.key.startsWith(`${n}-x`));
      if (!s.length) throw new Error(`unknown server ${n}; known: ${all.map((x) => x.key).join(', ')}`);
      return s;
    })
    : all.filter((s) => !s.explicit);
  const skipped = {};
  for (const s of wanted) {
    if (!s.missing) continue;
    skipped[s.key] = `skipped: ${s.missing}`;
    if (!s.optional || opts.servers) console.log(`bench: ${s.label} ${skipped[s.key]}`);
  }
  // A missing ringnet still gets a row saying why; a missing Bun is just left out.
  const servers = wanted.filter((s) => !s.missing || !s.optional || opts.servers);
  const runnable = () => servers.filter((s) => !skipped[s.key]);

  const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const tasksetWorks = () => ['0', '1'].every((c) => spawnSync('taskset', ['-c', c, 'true']).status === 0);
  const why = cpus < 2 ? 'only 1 CPU' : !onPath('taskset') ? 'taskset not found' : !tasksetWorks() ? 'taskset cannot use CPUs 0 and 1' : null;
  const pin = !why;
  if (!pin) console.log(`bench: WARNING: running unpinned (${why}); server and client compete for the same CPUs`);
  for (const s of servers) s.cpuPlan = cpuPlan(s, cpus);
  for (const s of servers) {
    if (s.loops > 1 && s.loops >= cpus) {
      console.log(`bench: NOTE: ${s.label}: this machine has ${cpus} CPUs, so its ${s.loops} loops share CPU 0 ` +
        `(a scaling measurement needs ${s.loops + 1} CPUs: ${s.loops} for the loops, 1+ for the load)`);
    }
  }
  const perRun = opts.warmup + opts.duration + 0.5;
  const estimate = Math.ceil((opts.rounds * shapes.length * runnable().length * perRun) / 60);
  console.log(`bench: ${opts.rounds} rounds × ${shapes.length} shapes × ${runnable().length} servers, ` +
    `${opts.warmup}+${opts.duration} s each (~${estimate} min)${pin ? '; server on CPU 0, client on CPU 1' : ''}`);

  const runs = {};
  for (const shape of shapes) runs[shape.name] = Object.fromEntries(servers.map((s) => [s.key, []]));
  for (let round = 0; round < opts.rounds; round++) {
    for (const shape of shapes) {
      // Rotating the order each round spreads any drift (thermal, page cache)
      // evenly over the servers.
      const order = runnable();
      const rotated = order.slice(round % order.length).concat(order.slice(0, round % order.length));
      for (const server of rotated) {
        if (skipped[server.key]) continue;
        const tag = `[${round + 1}/${opts.rounds} ${shape.name}] ${server.label.padEnd(8)}`;
        let target;
        try {
          target = await startServer(server, pin, shape);
          target.clientCpus = server.cpuPlan.client;
        } catch (err) {
          skipped[server.key] = `failed to start: ${err.message.split('\n')[0]}`;
          console.log(`${tag} FAILED TO START: ${err.message}\n    skipping ${server.label} from now on`);
          continue;
        }
        let out;
        const onDeath = (code, sig) => (target.diedDuringRun = sig || `code ${code}`);
        target.child.once('exit', onDeath);
        try {
          out = await runLoadgen(bin, shape, target, opts, pin);
        } finally {
          target.child.off('exit', onDeath);
          await stopServer(target.child);
        }
        const r = out.result;
        const run = r && {
          round, qps: r.qps, msgs: r.msgs, seconds: r.seconds, p50_us: r.p50_us, p99_us: r.p99_us, p999_us: r.p999_us,
          mean_us: r.mean_us, errors: r.errors,
          cpu_us_per_req: r.server_cpu_us >= 0 && r.msgs ? r.server_cpu_us / r.msgs : null,
          user_us_per_req: r.server_user_us >= 0 && r.msgs ? r.server_user_us / r.msgs : null,
          server_cpu_pct: r.server_cpu_us >= 0 && r.seconds ? r.server_cpu_us / r.seconds / 1e4 : null,
          client_cpu_pct: r.client_cpu_pct, softirq_cpu_pct: r.softirq_cpu_pct, other_cpu_pct: r.other_cpu_pct,
        };
        if (out.error) {
          const died = target.diedDuringRun ? `; the server had exited (${target.diedDuringRun})` : '';
          runs[shape.name][server.key].push({ round, ...run, error: out.error + died });
          const stderr = target.stderr().trim().split('\n').slice(-3).join(' | ');
          console.log(`${tag} ERROR: ${out.error}${died}${stderr ? `\n    server stderr: ${stderr}` : ''}`);
          continue;
        }
        runs[shape.name][server.key].push(run);
        console.log(`${tag} ${fmtInt(run.qps).padStart(10)} req/s  p50 ${fmt(run.p50_us, 0)} µs  p99 ${fmt(run.p99_us, 0)} µs  ` +
          `${fmt(run.cpu_us_per_req, 2)} CPU µs/req  (server ${fmt(run.server_cpu_pct, 0)}%, client ${fmt(run.client_cpu_pct, 0)}%)` +
          (run.other_cpu_pct >= NOISY_OTHER_PCT ? `  NOISY: other processes used ${fmt(run.other_cpu_pct, 0)}% CPU` : ''));
      }
    }
  }

  const results = shapes.map((shape) => ({
    shape,
    servers: servers.map((s) => {
      const mine = runs[shape.name][s.key];
      const summary = summarize(mine);
      if (summary) summary.cpu_vs_c_paired = pairedCpuRatio(mine, runs[shape.name].c);
      return { key: s.key, label: s.label, summary, skipped: mine.length ? undefined : skipped[s.key], runs: mine };
    }),
  }));
  for (const { shape, servers: rows } of results) printTable(shape, rows);
  console.log(`\nmedians over ${opts.rounds} rounds; spread = (max-min)/median QPS; vs node:net / vs C floor compare median QPS; ` +
    'CPU vs C = median over rounds of CPU µs/req over the C floor\'s in the same round; ' +
    `* = client used ≥${CLIENT_BOUND_PCT}% of its CPU, so QPS may be client-bound (compare CPU µs/req)`);

  const noisy = results.flatMap((r) => r.servers.flatMap((x) => x.runs)).filter((x) => !x.error && x.other_cpu_pct >= NOISY_OTHER_PCT);
  if (noisy.length) console.log(`bench: WARNING: ${noisy.length} run(s) shared the machine with other busy processes; numbers are noisy`);

  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const report = { meta: meta(opts, pin, cpus), results };
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `echo-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  writeSvg(path.join(RESULTS, 'echo-latest.svg'), report);
  console.log(`bench: wrote ${file}, ${path.join(RESULTS, 'latest.json')}, ${path.join(RESULTS, 'echo-latest.svg')}`);
  const failedStart = Object.values(skipped).some((why) => why.startsWith('failed'));
  const failedRun = results.some(({ servers: rows }) => rows.some((r) => r.runs.some((x) => x.error)));
  return failedStart || failedRun ? 1 : 0;
}

function meta(opts, pin, cpus) {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return {
    date: new Date().toISOString(),
    commit: git.status === 0 ? git.stdout.trim() : null,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? null,
    cpus,
    pinned: pin,
    options: { rounds: opts.rounds, duration_s: opts.duration, warmup_s: opts.warmup, loops: opts.loops, loadgen_threads: opts.threads },
  };
}

module.exports = { main, SHAPES, startServer, stopServer, median, pinned, onPath };
if (require.main === module) {
  main().then((code) => process.exit(code), (err) => {
    console.error(`bench: ${err.message}`);
    killAll();
    process.exit(1);
  });
}
