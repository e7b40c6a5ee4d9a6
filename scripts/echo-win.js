#!/usr/bin/env node
// `npm run echo:win`: `ringnet echo` under Wine with Windows' node.exe, driven from
// the Linux side over 127.0.0.1 by the bench's native clients:
//   1. bench/echocheck: --conns connections each send --mib MiB of a seeded stream;
//      every echoed byte is checked (exit 0 only when all came back intact);
//   2. bench/loadgen (closed loop, every byte checked): ringnet echo and a node:net
//      echo server (bench/node-echo.js), both under Wine with the same node.exe,
//      alternated --rounds times; medians and the ratio. A sanity ratio for the Wine
//      build, not a Windows performance claim (Wine's socket layer is in the path).
// Needs what test-win.js needs, plus `npm run build:win` and `npm run build:ts` done.
//
// Options: --conns N (16), --mib M (8), --seconds S (4), --rounds R (3), --lg-conns C (32), --size B (64)
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nodeExe, winePrefix, stage, wine, out } = require('./test-win.js');
const { build } = require('../bench/build.js');

const args = process.argv.slice(2);
const num = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const conns = num('--conns', 16), mib = num('--mib', 8), seconds = num('--seconds', 4), rounds = num('--rounds', 3);
const lgConns = num('--lg-conns', 32), size = num('--size', 64);

function die(msg) {
  console.error(`echo:win: ${msg}`);
  process.exit(1);
}

// Start a server under Wine (stdout to a file: node.exe stalls on Linux pipes) and
// wait for its "listening on tcp://host:port" line.
async function startServer(env, exe, dir, script, name) {
  const logFile = path.join(out, 'test-win', `${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(wine, [exe, ...script], { cwd: dir, env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const t0 = Date.now();
  while (Date.now() - t0 < 60000) {
    const m = /listening on tcp:\/\/[^\s]*:(\d+)/.exec(fs.readFileSync(logFile, 'utf8'));
    if (m) return { child, port: Number(m[1]), logFile };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  die(`${name} did not start: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
}

function stopServer(s) {
  s.child.kill('SIGKILL');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (!wine) die('wine64 not found (Debian: apt-get install wine64; or set WINE)');
  if (!fs.existsSync(path.join(out, 'ringnet.node'))) die('build-win/ringnet.node is missing: npm run build:win first');
  const tools = build({ quiet: true });
  const exe = nodeExe();
  const dir = stage('stage-echo');
  const { prefix, env } = winePrefix();
  const report = { wine: spawnSync(wine, ['--version'], { encoding: 'utf8' }).stdout.trim(), node: path.basename(path.dirname(path.dirname(path.dirname(exe)))) };
  let ok = true;
  try {
    // 1. every byte verified
    const rn = await startServer(env, exe, dir, ['dist/cli.js', 'echo', '--port', '0'], 'echo-win-ringnet');
    report.listening = fs.readFileSync(rn.logFile, 'utf8').trim().split('\n')[0];
    const c = spawnSync(tools.echocheck, ['127.0.0.1', String(rn.port), '--conns', String(conns), '--mib', String(mib), '--timeout-s', '120'], { encoding: 'utf8', timeout: 150000 });
    report.echocheck = c.stdout.trim();
    if (c.status !== 0) {
      ok = false;
      console.error(`echocheck failed (status ${c.status}): ${c.stdout}${c.stderr}`);
    }
    stopServer(rn);
    // 2. QPS: ringnet vs node:net, both under Wine, alternated
    const qps = { ringnet: [], 'node:net': [] };
    const servers = { ringnet: ['dist/cli.js', 'echo', '--port', '0'], 'node:net': ['bench/node-echo.js', '--port', '0'] };
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 ? ['node:net', 'ringnet'] : ['ringnet', 'node:net']) {
        const s = await startServer(env, exe, dir, servers[name], `echo-win-${name.replace(':', '-')}`);
        const g = spawnSync(tools.loadgen, ['-w', '1', '127.0.0.1', String(s.port), String(lgConns), String(size), '1', String(seconds)], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
        stopServer(s);
        let j = null;
        try {
          j = JSON.parse(g.stdout.trim().split('\n').pop());
        } catch {}
        if (g.status !== 0 || !j) {
          ok = false;
          console.error(`loadgen against ${name} failed (status ${g.status}): ${g.stdout}${g.stderr}`);
          continue;
        }
        qps[name].push(j.qps);
        console.log(`round ${r + 1} ${name}: ${j.qps.toFixed(0)} req/s, p50 ${j.p50_us} µs, p99 ${j.p99_us} µs`);
      }
    }
    report.qps = Object.fromEntries(Object.entries(qps).map(([k, v]) => [k, v.length ? Math.round(median(v)) : null]));
    if (report.qps.ringnet && report.qps['node:net']) report.ratio = +(report.qps.ringnet / report.qps['node:net']).toFixed(2);
    report.loadgen = `${lgConns} conns x ${size} B, depth 1, ${seconds} s x ${rounds} rounds`;
  } finally {
    fs.rmSync(prefix, { recursive: true, force: true });
  }
  report.uptime = spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();
  console.log(JSON.stringify(report, null, 1));
  if (!ok) die('failed');
}

main().catch((e) => die(e.stack || String(e)));
