'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { readBytes, until } = require('./helpers');

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
}

test('EMFILE on accept: no busy loop, and the server recovers when fds free up', { skip: !hasPrlimit && 'prlimit not found' }, async () => {
  // 64 fds: node's own ~25, the listener, the loop, and room for some connections.
  const child = spawn('prlimit', ['--nofile=64:64', process.execPath, path.join(__dirname, '..', 'fixtures', 'emfile-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const socks = [];
  try {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until(() => out.includes('\n'), 10000, 'server to start');
    const port = Number(out.trim());
    // Far more connections than the server has fds for.
    for (let i = 0; i < 120; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      socks.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    const stats = await new Promise((r) => {
      child.once('message', r);
      child.send('stats');
    });
    assert.ok(stats.acceptErrors > 0, 'the server should have hit EMFILE');
    // Pending connections are accepted-and-dropped, not left to spin the loop:
    // over a second, the server uses a small share of one CPU.
    const t0 = cpuTicks(child.pid);
    await new Promise((r) => setTimeout(r, 1000));
    const used = (cpuTicks(child.pid) - t0) / 100; // seconds (USER_HZ = 100)
    assert.ok(used < 0.5, `server used ${used}s of CPU in 1s while out of fds`);
    // Free the fds; a new connection is served.
    for (const s of socks) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const s = net.connect(port, '127.0.0.1');
    socks.push(s);
    s.write('alive');
    assert.strictEqual((await readBytes(s, 5)).toString(), 'alive');
  } finally {
    for (const s of socks) s.destroy();
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
});
