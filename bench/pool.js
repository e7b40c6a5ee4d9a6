'use strict';
// Worker-pool benchmark: ringnet's WorkerPool against piscina, same run, same thread
// count. Each (pool, measurement) runs in a fresh child process; rounds rotate the
// order and the table reports medians.
//
// usage: node bench/pool.js [--quick] [--threads N] [--rounds N] [--duration S]
//          [--pools ringnet,piscina] [--only trivial,latency,latency1cpu,block,memory]
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const TRIVIAL = path.join(__dirname, 'pool-tasks', 'trivial.js');
const SLEEP = path.join(__dirname, 'pool-tasks', 'sleep.js');
const IN_FLIGHT = 256;
const IDLE_WORKERS = 8;

const MEASUREMENTS = {
  trivial: { label: `trivial task (x => x + 1), ${IN_FLIGHT} in flight`, unit: 'tasks/s', better: 'higher' },
  latency: { label: 'round trip, 1 in flight', unit: 'µs', better: 'lower' },
  latency1cpu: { label: 'round trip, 1 in flight, process on one CPU (taskset)', unit: 'µs', better: 'lower' },
  block: { label: '1 ms blocking task, 2× capacity in flight', unit: 'tasks/s', better: 'higher' },
  memory: { label: `idle pool of ${IDLE_WORKERS} workers, RSS`, unit: 'MiB', better: 'lower' },
};

function parseArgs(argv) {
  const o = { quick: false, threads: 2, rounds: null, duration: null, pools: ['ringnet', 'piscina'], only: Object.keys(MEASUREMENTS) };
  if (!onPath('taskset')) o.only = o.only.filter((w) => w !== 'latency1cpu');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--threads') o.threads = Number(value());
    else if (a === '--rounds') o.rounds = Number(value());
    else if (a === '--duration') o.duration = Number(value());
    else if (a === '--pools') o.pools = value().split(',').filter(Boolean);
    else if (a === '--only') o.only = value().split(',').filter(Boolean);
    else if (a === '--child') o.child = [value(), value()];
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  o.rounds ??= o.quick ? 1 : 3;
  o.duration ??= o.quick ? 1 : 3;
  return o;
}

// ---- child: one pool, one measurement ------------------------------------------------

function makePool(kind, filename, threads, extra = {}) {
  if (kind === 'ringnet') {
    const { WorkerPool } = require(path.join(ROOT, 'dist', 'pool', 'index.js'));
    const pool = new WorkerPool(filename, { size: threads, preAlloc: true, disablePurge: true, ...extra });
    return { run: (x) => pool.run(x), ready: () => pool.ready(), close: () => pool.terminate() };
  }
  const Piscina = require('piscina');
  const pool = new Piscina({ filename, minThreads: threads, maxThreads: threads, idleTimeout: 2 ** 30, ...extra });
  return { run: (x) => pool.run(x), ready: async () => {}, close: () => pool.destroy() };
}

/** Run `fn` until `seconds` pass, after `warmup` seconds of the same. */
async function timed(seconds, body) {
  await body(Math.max(0.2, seconds / 5), null);
  const stats = { ops: 0, samples: [] };
  const t0 = process.hrtime.bigint();
  await body(seconds, stats);
  stats.elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return stats;
}

async function warmWorkers(pool, threads) {
  await pool.ready();
  // Every thread up and its task module loaded.
  await Promise.all(Array.from({ length: threads * 4 }, (_, i) => pool.run(i)));
}

async function childTrivial(kind, o) {
  const pool = makePool(kind, TRIVIAL, o.threads);
  await warmWorkers(pool, o.threads);
  const s = await timed(o.duration, async (seconds, stats) => {
    const until = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < until) {
          const x = n++;
          if ((await pool.run(x)) !== x + 1) throw new Error('wrong result');
        }
      }),
    );
    if (stats) stats.ops = n;
  });
  await pool.close();
  return { value: s.ops / s.elapsed, ops: s.ops };
}

async function childLatency(kind, o) {
  const pool = makePool(kind, TRIVIAL, o.threads);
  await warmWorkers(pool, o.threads);
  const s = await timed(o.duration, async (seconds, stats) => {
    const until = performance.now() + seconds * 1000;
    let x = 0;
    while (performance.now() < until) {
      const t = process.hrtime.bigint();
      await pool.run(x++);
      if (stats) stats.samples.push(Number(process.hrtime.bigint() - t) / 1000);
    }
  });
  await pool.close();
  const v = s.samples.sort((a, b) => a - b);
  const pct = (p) => v[Math.min(v.length - 1, Math.floor(v.length * p))];
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { value: mean, p50: pct(0.5), p99: pct(0.99), ops: v.length };
}

async function childBlock(kind, o) {
  const pool = makePool(kind, SLEEP, o.threads);
  await pool.ready();
  await Promise.all(Array.from({ length: o.threads }, () => pool.run(1)));
  const s = await timed(o.duration, async (seconds, stats) => {
    const until = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: 2 * o.threads }, async () => {
        while (performance.now() < until) {
          await pool.run(1);
          n++;
        }
      }),
    );
    if (stats) stats.ops = n;
  });
  await pool.close();
  const value = s.ops / s.elapsed;
  const ideal = o.threads * 1000;
  return { value, ideal, efficiency: value / ideal };
}

/** What `threads` threads sleeping 1 ms in a loop achieve: the block test's real ceiling. */
async function childSleepCeiling(o) {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const until = performance.now() + o.duration * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < until) {
    Atomics.wait(cell, 0, 0, 1);
    n++;
  }
  return { value: (n / (performance.now() - t0)) * 1000 * o.threads };
}

async function childMemory(kind) {
  const rss = () => {
    global.gc();
    return process.memoryUsage().rss;
  };
  makePool; // load the library before the baseline
  if (kind === 'ringnet') require(path.join(ROOT, 'dist', 'pool', 'index.js'));
  else require('piscina');
  await new Promise((r) => setTimeout(r, 200));
  const before = rss();
  const pool = makePool(kind, SLEEP, IDLE_WORKERS);
  await pool.ready();
  // Every worker up and holding a task at once, then idle.
  await Promise.all(Array.from({ length: IDLE_WORKERS }, () => pool.run(50)));
  await new Promise((r) => setTimeout(r, 1000));
  const after = rss();
  await pool.close();
  return { value: (after - before) / 2 ** 20, perWorker: (after - before) / 2 ** 20 / IDLE_WORKERS };
}

async function child(kind, what, o) {
  if (kind === 'bare') {
    process.stdout.write(`${JSON.stringify(await childSleepCeiling(o))}\n`);
    return;
  }
  const run = { trivial: childTrivial, latency: childLatency, block: childBlock, memory: childMemory }[what];
  const r = await run(kind, o);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

// ---- parent ---------------------------------------------------------------------------

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() !== '';
}

function runChild(kind, what, o) {
  let args = ['--expose-gc', __filename, '--child', kind, what === 'latency1cpu' ? 'latency' : what, '--threads', String(o.threads), '--duration', String(o.duration)];
  let cmd = process.execPath;
  // Every thread on one CPU: the hand-offs cost context switches only, not waking an
  // idle CPU (which a VM makes slow and noisy), so this row isolates the dispatch path.
  if (what === 'latency1cpu') {
    args = ['-c', '0', cmd, ...args];
    cmd = 'taskset';
  }
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`${kind} ${what} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function fmt(what, r) {
  if (r === undefined) return '—';
  switch (what) {
    case 'trivial':
      return `${Math.round(r.value).toLocaleString('en-US')}`;
    case 'latency':
    case 'latency1cpu':
      return `${r.value.toFixed(1)} (p50 ${r.p50.toFixed(1)}, p99 ${r.p99.toFixed(1)})`;
    case 'block':
      return `${Math.round(r.value).toLocaleString('en-US')} (${(r.efficiency * 100).toFixed(1)}% of ${r.ideal})`;
    case 'memory':
      return `${r.value.toFixed(1)} (${r.perWorker.toFixed(1)}/worker)`;
  }
  return String(r.value);
}

function ratio(what, a, b) {
  if (!a || !b) return '—';
  const x = MEASUREMENTS[what].better === 'higher' ? a.value / b.value : b.value / a.value;
  return `${x.toFixed(2)}×`;
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log('usage: node bench/pool.js [--quick] [--threads N] [--rounds N] [--duration S] [--pools ringnet,piscina] [--only trivial,latency,latency1cpu,block,memory]');
    return;
  }
  if (o.child) {
    child(o.child[0], o.child[1], o).catch((err) => {
      console.error(err);
      process.exit(1);
    });
    return;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'pool', 'index.js'))) {
    throw new Error('dist/pool/index.js not found: build first (npx tsc -p tsconfig.json)');
  }
  console.log(`pool bench: ${o.threads} threads, ${o.rounds} round(s) of ${o.duration} s, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
  const raw = {};
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 ? [...o.pools].reverse() : o.pools;
    for (const what of o.only) {
      for (const kind of order) {
        const r = runChild(kind, what, o);
        ((raw[kind] ??= {})[what] ??= []).push(r);
        console.log(`  round ${round + 1} ${kind.padEnd(8)} ${what.padEnd(8)} ${fmt(what, r)}`);
      }
    }
  }
  // Median by the headline value; the row shows that run's details.
  const summary = {};
  for (const kind of o.pools) {
    summary[kind] = {};
    for (const what of o.only) {
      const runs = raw[kind]?.[what] ?? [];
      const m = median(runs.map((r) => r.value));
      summary[kind][what] = runs.reduce((best, r) => (Math.abs(r.value - m) < Math.abs(best.value - m) ? r : best), runs[0]);
    }
  }
  const [a, b] = o.pools;
  const lines = [
    `| measurement (${o.threads} threads) | unit | ${o.pools.join(' | ')} | ${a} vs ${b} |`,
    `|---|---|${o.pools.map(() => '---:').join('|')}|---:|`,
  ];
  for (const what of o.only) {
    const m = MEASUREMENTS[what];
    lines.push(`| ${m.label} | ${m.unit} | ${o.pools.map((k) => fmt(what, summary[k][what])).join(' | ')} | ${ratio(what, summary[a]?.[what], summary[b]?.[what])} |`);
  }
  let ceiling;
  if (o.only.includes('block')) {
    ceiling = runChild('bare', 'block', o).value;
    lines.push('', `1 ms task ceiling here: ${Math.round(ceiling).toLocaleString('en-US')} tasks/s (${o.threads} threads doing nothing but Atomics.wait(1 ms) in a loop; timer slack).`);
  }
  console.log(`\n${lines.join('\n')}\n`);
  console.log('ratio: how many times better the first pool is (higher tasks/s, lower µs / MiB).');
  console.log(`load average during the run: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const out = {
    bench: 'pool',
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    threads: o.threads,
    rounds: o.rounds,
    durationS: o.duration,
    inFlight: IN_FLIGHT,
    loadavg: os.loadavg(),
    blockCeiling: ceiling,
    summary,
    raw,
    table: lines.join('\n'),
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, 'pool-latest.json');
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`results: ${path.relative(ROOT, file)}`);
}

main();
