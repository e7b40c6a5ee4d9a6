#!/usr/bin/env node
'use strict';
// The slow-reader memory bound (issue 8, item 5): `ringnet echo` against clients
// that send without reading for a while (bench/echocheck.c --pause-ms), then read
// everything back, every byte checked. Samples the server's RSS (/proc/PID/status)
// every 10 ms and prints the peak over the idle server.
//
//   node bench/slow-reader.js [--mib 400] [--conns 1,4] [--pause-ms 2000] [--loops 1] [--json]
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { build } = require('./build');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const MIB = Number(opt('--mib', '400'));
const CONNS = opt('--conns', '1,4').split(',').map(Number);
const PAUSE = Number(opt('--pause-ms', '2000'));
const LOOPS = opt('--loops', '1');
const root = path.join(__dirname, '..');

function rssKiB(pid, field = 'VmRSS') {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function startServer() {
  const srv = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), 'echo', '--port', '0', '--loops', LOOPS], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ringnet echo did not start')), 20000);
    srv.stdout.on('data', (d) => {
      out += d;
      const m = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    srv.once('exit', (c) => reject(new Error(`ringnet echo exited (${c})`)));
  });
  return { srv, port };
}

async function main() {
  const { echocheck } = build({ quiet: true });
  const rows = [];
  for (const conns of CONNS) {
    const { srv, port } = await startServer();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const idle = rssKiB(srv.pid);
      let peak = idle;
      const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(srv.pid))), 10);
      const client = spawn(echocheck, ['127.0.0.1', String(port), '--conns', String(conns), '--mib', String(MIB), '--pause-ms', String(PAUSE), '--timeout-s', '120'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let line = '';
      client.stdout.on('data', (d) => (line += d));
      const code = await new Promise((r) => client.once('exit', r));
      clearInterval(sampler);
      peak = Math.max(peak, rssKiB(srv.pid, 'VmHWM'));
      const r = JSON.parse(line);
      rows.push({ conns, mibEach: MIB, pauseMs: PAUSE, idleMiB: +(idle / 1024).toFixed(1), peakMiB: +(peak / 1024).toFixed(1), growthMiB: +((peak - idle) / 1024).toFixed(1), sent: r.sent, received: r.received, mismatches: r.mismatches, ok: code === 0 });
    } finally {
      srv.kill('SIGTERM');
      await new Promise((r) => (srv.exitCode !== null ? r() : srv.once('exit', r)));
    }
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify(rows));
  } else {
    console.log(`ringnet echo (loops ${LOOPS}, default options) vs slow readers: ${MIB} MiB each, no reads for ${PAUSE} ms`);
    console.log('| clients | server RSS idle | peak | growth | bytes sent | bytes echoed | mismatches | ok |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.conns} | ${r.idleMiB} MiB | ${r.peakMiB} MiB | ${r.growthMiB} MiB | ${r.sent} | ${r.received} | ${r.mismatches} | ${r.ok} |`);
    console.log(`load average: ${require('node:os').loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  }
  if (rows.some((r) => !r.ok)) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
