#!/usr/bin/env node
// Build and run the libFuzzer target for the op decoder (test/fuzz/fuzz_ops.cc)
// under ASan + UBSan, bounded in time, with its seed printed so a failure can be
// replayed:  node scripts/fuzz.js [--seconds 60] [--seed N]
// Needs clang++ with libFuzzer (Debian: clang-14 libclang-rt-14-dev). Without it,
// it says so and exits 0 — except under CI=true, where a missing fuzzer fails.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const seconds = Number(opt('--seconds', process.env.RINGNET_FUZZ_SECONDS || 60));
const seed = Number(opt('--seed', process.env.RINGNET_SEED || Math.floor(Math.random() * 2 ** 31)));

function findClang() {
  for (const c of ['clang++-14', 'clang++']) {
    if (spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) return c;
  }
  return null;
}

const clang = findClang();
if (!clang) {
  const msg = 'fuzz: skipped: no clang++ with libFuzzer (apt-get install clang-14 libclang-rt-14-dev)';
  if (process.env.CI) {
    console.error(msg.replace('skipped', 'FAILED under CI'));
    process.exit(1);
  }
  console.log(msg);
  process.exit(0);
}

const out = path.join(root, 'build-fuzz');
fs.mkdirSync(out, { recursive: true });
const bin = path.join(out, 'fuzz_ops');
const core = path.join(root, 'native', 'core');
// Every core file (recursively, so the seam layout's subdirectories too), minus the
// backends of other OSes and optional ones.
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}
const coreFiles = walk(core);
// io_uring.cc needs liburing; the fuzz build takes io_uring_none.cc (the op decoder
// is the same code whatever the backend).
const sources = coreFiles.filter((f) => {
  const b = path.basename(f);
  return b.endsWith('.cc') && !/kqueue|_win|iocp|darwin|freebsd|afd|tls_none/.test(b) && b !== 'io_uring.cc';
});
const includeDirs = [...new Set(coreFiles.map((f) => path.dirname(f)))];
const newest = Math.max(...[...coreFiles, path.join(root, 'test', 'fuzz', 'fuzz_ops.cc'), path.join(root, 'test', 'native', 'loop_fixture.h')].map((f) => fs.statSync(f).mtimeMs));
let built = 0;
try {
  built = fs.statSync(bin).mtimeMs;
} catch {}
if (built < newest) {
  const argv = [
    '-std=c++17', '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined',
    '-fno-omit-frame-pointer', ...includeDirs.map((d) => `-I${d}`), `-I${path.join(root, 'test', 'native')}`,
    path.join(root, 'test', 'fuzz', 'fuzz_ops.cc'), ...sources, '-lssl', '-lcrypto', '-lpthread', '-o', bin,
  ];
  console.log(`$ ${clang} ${argv.join(' ')}`);
  const r = spawnSync(clang, argv, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('fuzz: build failed');
    process.exit(1);
  }
}

const corpus = path.join(out, 'corpus');
fs.mkdirSync(corpus, { recursive: true });
console.log(`fuzz: op decoder for ${seconds} s, seed ${seed} (replay: node scripts/fuzz.js --seed ${seed})`);
const t0 = Date.now();
const r = spawnSync(bin, [`-seed=${seed}`, `-max_total_time=${seconds}`, '-max_len=2048', '-timeout=10', `-artifact_prefix=${out}/`, corpus], {
  stdio: ['ignore', 'inherit', 'pipe'],
  env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
});
const err = r.stderr.toString();
const lines = err.split('\n');
const stats = lines.filter((l) => /^#\d+\s+(DONE|INITED)|Done \d+ runs/.test(l));
for (const l of stats) console.log(`fuzz: ${l.trim()}`);
if (r.status !== 0) {
  process.stderr.write(err.slice(-20000));
  console.error(`fuzz: FAILED (exit ${r.status ?? r.signal}) with seed ${seed}; crashing input in ${out}/`);
  process.exit(1);
}
console.log(`fuzz: ok in ${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${seed}`);
