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
// - Node-API calls link against an import library made with dlltool from a .def
//   (NAME NODE.EXE): node-api-headers' def/node_api.def plus the OpenSSL 3 functions
//   the objects call (TLS: transport/tls_*_openssl.cc). The addon imports them from
//   the host executable, as MSVC builds do with node.lib (linking mingw objects
//   against MSVC's node.lib is known to crash: nodejs/node#38782). A host not named
//   node.exe (Electron) would need a delay-load hook; not done.
// - OpenSSL: Node's own headers (include/node/openssl: $npm_config_nodedir, this
//   node's prefix, or /usr) with the VC-WIN64A configuration (mingw defines no _M_X64,
//   so Node's dispatching configuration.h would pick a Linux one). The OpenSSL names
//   for the .def come from the objects (nm -u), not from a list, and each must be in
//   node.exe's export table (objdump -p of scripts/node-win.js's node.exe, fetched
//   once): a name node.exe lacks fails the build, before a link that would load
//   nowhere.
// - libstdc++, libgcc and winpthread are linked statically: the .node needs only
//   system DLLs (KERNEL32, WS2_32, msvcrt, ...) and NODE.EXE, checked after the link.
// - The -posix compiler: the win32 thread model has no std::thread before GCC 13.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { gypTarget } = require('./zig-build.js');
const { nodeExe } = require('./node-win.js');

const root = path.join(__dirname, '..');
const outDir = path.join(root, 'build-win');
const cxx = process.env.MINGW_CXX || 'x86_64-w64-mingw32-g++-posix';
const dlltool = process.env.MINGW_DLLTOOL || 'x86_64-w64-mingw32-dlltool';
const objdump = process.env.MINGW_OBJDUMP || 'x86_64-w64-mingw32-objdump';
const nm = process.env.MINGW_NM || 'x86_64-w64-mingw32-nm';
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

// Node's headers with OpenSSL's in them (include/node/openssl/archs/VC-WIN64A).
function nodeOpensslHeaders() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  candidates.push(path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node');
  const arch = (d) => path.join(d, 'openssl', 'archs', 'VC-WIN64A', 'asm', 'include');
  const dir = candidates.find((d) => fs.existsSync(path.join(arch(d), 'openssl', 'configuration.h')) && fs.existsSync(path.join(d, 'openssl', 'e_os2.h')));
  if (!dir) throw new Error(`build:win: Node's OpenSSL headers (openssl/archs/VC-WIN64A) not found in ${candidates.join(', ')}; set npm_config_nodedir`);
  // An include dir holding only openssl/ (Node's node_api.h must not replace
  // node-api-headers'), after the win64 configuration's generated headers.
  const only = path.join(outDir, 'openssl-include');
  fs.mkdirSync(only, { recursive: true });
  const link = path.join(only, 'openssl');
  let cur = null;
  try {
    cur = fs.readlinkSync(link);
  } catch {}
  if (cur !== path.join(dir, 'openssl')) {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.join(dir, 'openssl'), link);
  }
  return [arch(dir), only];
}

// OpenSSL's public names: the prefixes of libssl/libcrypto 3's functions. An OpenSSL
// call under another prefix is not in the .def and fails the link (undefined
// reference): add its prefix here.
const OPENSSL_NAME = /^(?:ASN1|BIO|BN|CRYPTO|CONF|DH|DSA|DTLS|EC|ECDSA|ENGINE|ERR|EVP|HMAC|OBJ|OCSP|OPENSSL|OpenSSL|OSSL|PEM|PKCS\d*|RAND|RSA|SSL|TLS|UI|X509|X509V3|d2i|i2d|a2i|i2a|i2s|s2i|i2v|v2i)_/;

// nm's names in the objects: { undefined, defined }.
function objectSymbols(objects) {
  const r = spawnSync(nm, ['-g', ...objects], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`build:win: ${nm} -g failed: ${r.stderr}`);
  const undef = new Set();
  const def = new Set();
  // "<addr> T name" or "         U name"; file headers and blank lines skipped.
  for (const line of r.stdout.split('\n')) {
    const m = /^(?:[0-9a-f]+)?\s+([A-Za-z])\s+(\S+)$/.exec(line);
    if (!m) continue;
    (m[1] === 'U' ? undef : def).add(m[2]);
  }
  for (const d of def) undef.delete(d);
  return { undef };
}

// node.exe's exported names (cached next to it, keyed by its size and mtime).
function nodeExports(exe) {
  const st = fs.statSync(exe);
  const cache = path.join(outDir, 'node-exports.txt');
  const key = `${path.resolve(exe)} ${st.size} ${st.mtimeMs}`;
  try {
    const [head, ...names] = fs.readFileSync(cache, 'utf8').split('\n');
    if (head === key) return new Set(names.filter(Boolean));
  } catch {}
  const r = spawnSync(objdump, ['-p', exe], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`build:win: ${objdump} -p ${exe} failed`);
  const at = r.stdout.indexOf('[Ordinal/Name Pointer] Table');
  if (at < 0) throw new Error(`build:win: ${exe} has no export table (objdump -p)`);
  const names = [];
  for (const line of r.stdout.slice(at).split('\n').slice(1)) {
    const m = /^\s*\[\s*\d+\] (\S+)$/.exec(line);
    if (!m) break;
    names.push(m[1]);
  }
  fs.writeFileSync(cache, [key, ...names].join('\n') + '\n');
  return new Set(names);
}

// The import library for NODE.EXE: Node-API (node_api.def) plus the OpenSSL functions
// the objects call, each checked against node.exe's exports.
function importLib(objects) {
  const napiDef = path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'def', 'node_api.def');
  const napi = fs.readFileSync(napiDef, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/^(NAME|EXPORTS|LIBRARY)\b/.test(l));
  const { undef } = objectSymbols(objects);
  const ssl = [...undef].filter((n) => OPENSSL_NAME.test(n)).sort();
  const exe = nodeExe();
  const exports = nodeExports(exe);
  const missing = ssl.filter((n) => !exports.has(n));
  if (missing.length) throw new Error(`build:win: ${exe} does not export ${missing.join(', ')} (called by the TLS objects); the addon would not load`);
  if (ssl.length === 0 && objects.some((o) => /tls_context_openssl\.o$/.test(o))) throw new Error(`build:win: no OpenSSL names found in the TLS objects (${nm} output not understood?)`);
  const text = `NAME NODE.EXE\nEXPORTS\n${[...napi, ...ssl].map((n) => `  ${n}\n`).join('')}`;
  const defFile = path.join(outDir, 'node.def');
  const lib = path.join(outDir, 'libnode.a');
  const same = fs.existsSync(defFile) && fs.readFileSync(defFile, 'utf8') === text;
  if (!same || !fs.existsSync(lib)) {
    fs.writeFileSync(defFile, text);
    const r = spawnSync(dlltool, ['-d', defFile, '-l', lib], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`build:win: ${dlltool} -d ${defFile} failed`);
  }
  return { lib, napi: napi.length, ssl: ssl.length };
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
  for (const tool of [cxx, dlltool, objdump, nm]) {
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
  const ssl = nodeOpensslHeaders();
  const flags = [...common, ...ssl.map((d) => `-I${d}`), `-I${napiInclude}`, '-fvisibility=hidden'];
  const objects = await compileAll(sources, flags, path.join(outDir, 'obj'));
  const { lib, ssl: sslNames } = importLib(objects);
  const out = path.join(outDir, 'ringnet.node');
  // -static with -shared: every library statically (libstdc++, libgcc, winpthread),
  // the system import libraries still as DLL imports.
  const staticRt = ['-static'];
  await run(cxx, ['-shared', '-s', '-o', out, ...objects, lib, '-lws2_32', ...staticRt]);
  const dlls = checkImports(out);
  log(`build:win: ${path.relative(root, out)} (${fs.statSync(out).size} bytes; imports ${dlls.join(', ')}; ${sslNames} OpenSSL functions from node.exe) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  if (args.includes('--prebuild')) {
    const dir = path.join(root, 'prebuilds', 'win32-x64');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(out, path.join(dir, 'ringnet.napi.node'));
    log(`build:win: prebuilds/win32-x64/ringnet.napi.node`);
  }

  if (args.includes('--tests')) {
    // The test programs have no node.exe to take OpenSSL from (and mingw no libssl):
    // they link the no-TLS engine (transport/tls_none.cc) instead. TLS itself is
    // tested under Wine through the addon (test/js/tls-*.test.js).
    const core = sources.filter((s) => s.startsWith('native/core/') && !/tls_\w+_openssl\.cc$/.test(s)).concat('native/core/transport/tls_none.cc');
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
