#!/usr/bin/env node
// `npm run build:win`: cross-build the addon for win32-x64 with mingw-w64 (Debian:
// g++-mingw-w64-x86-64-posix, binutils-mingw-w64-x86-64), into build-win/ringnet.node.
//
//   npm run build:win                     build-win/ringnet.node
//   npm run build:win -- --prebuild       also prebuilds/win32-x64/ringnet.napi.node (what the tarball ships)
//   npm run build:win -- --tests          also build-win/tests/*.exe (native tests to run under Wine)
//
// - Sources and defines come from binding.gyp's OS=='win' conditions (scripts/zig-build.js
//   evaluates them), so this builds what node-gyp would build on Windows.
// - Node-API calls link against an import library made from node-api-headers'
//   def/node_api.def (NAME NODE.EXE) with dlltool: the addon imports them from the
//   host executable, as MSVC builds do with node.lib (linking mingw objects against
//   MSVC's node.lib is known to crash: nodejs/node#38782). A host not named node.exe
//   (Electron) would need a delay-load hook; not done.
// - libstdc++, libgcc and winpthread are linked statically: the .node needs only
//   system DLLs (KERNEL32, WS2_32, msvcrt, ...) and NODE.EXE, checked after the link.
// - The -posix compiler: the win32 thread model has no std::thread before GCC 13.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { gypTarget } = require('./zig-build.js');

const root = path.join(__dirname, '..');
const outDir = path.join(root, 'build-win');
const cxx = process.env.MINGW_CXX || 'x86_64-w64-mingw32-g++-posix';
const dlltool = process.env.MINGW_DLLTOOL || 'x86_64-w64-mingw32-dlltool';
const objdump = process.env.MINGW_OBJDUMP || 'x86_64-w64-mingw32-objdump';
const args = process.argv.slice(2);
for (const a of args) {
  if (!['--prebuild', '--tests', '--quiet'].includes(a)) {
    console.error(`build:win: unknown argument '${a}' (known: --prebuild, --tests, --quiet)`);
    process.exit(2);
  }
}
const quiet = args.includes('--quiet');
const log = (...m) => quiet || console.log(...m);

// DLLs a Windows machine always has (plus the host).
const SYSTEM_DLLS = new Set(['kernel32.dll', 'ws2_32.dll', 'msvcrt.dll', 'user32.dll', 'advapi32.dll', 'ntdll.dll', 'node.exe']);

function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function run(cmd, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', cmd, ...argv], { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`${cmd} ${argv.join(' ')}\n${err}`))));
  });
}

async function limit(n, fns) {
  let next = 0;
  async function worker() {
    while (next < fns.length) await fns[next++]();
  }
  await Promise.all(Array.from({ length: Math.min(n, fns.length) }, worker));
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

// Newest header under native/: any change rebuilds every object (simple and safe).
function newestHeader(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestHeader(p));
    else if (e.name.endsWith('.h')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

async function compileAll(sources, flags, objDir) {
  fs.mkdirSync(objDir, { recursive: true });
  const headers = Math.max(newestHeader(path.join(root, 'native')), mtime(path.join(root, 'binding.gyp')));
  const objects = sources.map((s) => path.join(objDir, s.replace(/[\\/]/g, '_').replace(/\.cc$/, '.o')));
  const jobs = [];
  sources.forEach((s, i) => {
    const src = path.join(root, s);
    if (mtime(objects[i]) > Math.max(mtime(src), headers)) return;
    jobs.push(() => run(cxx, [...flags, '-c', src, '-o', objects[i]]));
  });
  await limit(Math.max(1, Math.min(os.cpus().length, 4)), jobs);
  return objects;
}

function importLib() {
  const def = path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'def', 'node_api.def');
  const lib = path.join(outDir, 'libnode_api.a');
  if (mtime(lib) < mtime(def)) {
    const r = spawnSync(dlltool, ['-d', def, '-l', lib], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`build:win: ${dlltool} -d ${def} failed`);
  }
  return lib;
}

function checkImports(file) {
  const r = spawnSync(objdump, ['-p', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`build:win: ${objdump} -p ${file} failed`);
  const dlls = [...r.stdout.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toLowerCase());
  const extra = dlls.filter((d) => !SYSTEM_DLLS.has(d) && !d.startsWith('api-ms-win-'));
  if (extra.length) throw new Error(`build:win: ${file} needs ${extra.join(', ')} (only system DLLs and NODE.EXE are allowed)`);
  if (!/\bnapi_register_module_v1\b/.test(r.stdout)) throw new Error(`build:win: ${file} does not export napi_register_module_v1`);
  return dlls;
}

// Native tests that run under Wine (test/native, linked with the core for Windows).
const WIN_TESTS = ['poller_contract', 'taskq', 'loop_echo', 'outbuf', 'bufpool', 'slots'];

async function main() {
  for (const tool of [cxx, dlltool, objdump]) {
    if (!have(tool)) {
      console.error(`build:win: ${tool} not found. Debian/Ubuntu: apt-get install g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64`);
      process.exit(1);
    }
  }
  const t0 = Date.now();
  fs.mkdirSync(outDir, { recursive: true });
  const { sources, defines, includes } = gypTarget('win');
  const napiInclude = path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'include');
  const common = ['-std=c++17', '-O2', '-Wall', '-Wextra', '-Werror', ...defines.map((d) => `-D${d}`), ...includes.map((d) => `-I${d}`)];
  const flags = [...common, `-I${napiInclude}`, '-fvisibility=hidden'];
  const objects = await compileAll(sources, flags, path.join(outDir, 'obj'));
  const lib = importLib();
  const out = path.join(outDir, 'ringnet.node');
  // -static with -shared: every library statically (libstdc++, libgcc, winpthread),
  // the system import libraries still as DLL imports.
  const staticRt = ['-static'];
  await run(cxx, ['-shared', '-s', '-o', out, ...objects, lib, '-lws2_32', ...staticRt]);
  const dlls = checkImports(out);
  log(`build:win: ${path.relative(root, out)} (${fs.statSync(out).size} bytes; imports ${dlls.join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  if (args.includes('--prebuild')) {
    const dir = path.join(root, 'prebuilds', 'win32-x64');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(out, path.join(dir, 'ringnet.napi.node'));
    log(`build:win: prebuilds/win32-x64/ringnet.napi.node`);
  }

  if (args.includes('--tests')) {
    const core = sources.filter((s) => s.startsWith('native/core/'));
    const coreObjs = await compileAll(core, [...common, '-DRINGNET_NATIVE_TEST=1'], path.join(outDir, 'obj-tests'));
    const testDir = path.join(outDir, 'tests');
    fs.mkdirSync(testDir, { recursive: true });
    await limit(2, WIN_TESTS.map((name) => async () => {
      const src = path.join(root, 'test', 'native', `test_${name}.cc`);
      const exe = path.join(testDir, `test_${name}.exe`);
      const headers = fs.readdirSync(path.join(root, 'test', 'native')).filter((f) => f.endsWith('.h')).map((f) => path.join(root, 'test', 'native', f));
      if (mtime(exe) > Math.max(mtime(src), ...headers.map(mtime), ...coreObjs.map(mtime))) return;
      await run(cxx, [...common, `-I${path.join(root, 'test', 'native')}`, '-o', exe, src, ...coreObjs, '-lws2_32', '-static']);
    }));
    log(`build:win: ${WIN_TESTS.length} native tests in ${path.relative(root, testDir)}/`);
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
