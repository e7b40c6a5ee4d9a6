#!/usr/bin/env node
// node scripts/prebuild-musl-bun.js — loads prebuilds/linux-<arch>/ringnet.napi.musl.node in a
// real Node-API host on musl: Bun's official musl build (@oven/bun-linux-x64-musl, or
// -aarch64-musl under qemu-aarch64-static with --arch arm64), from the npm registry.
//
//   node scripts/prebuild-musl-bun.js [--arch x64|arm64] [--dir prebuilds]
//
// What it proves, and what not: musl's dynamic loader (Debian's musl 1.2.x) maps the
// file, resolves every import against musl's libc and the host (RTLD_NOW: the Zig
// link binds eagerly), runs its static constructors (Zig's libc++) and Node-API's
// module init (napi_register_module_v1 building the classes), and then a few calls
// into the native core under musl (errno names, sched_getaffinity, gettid, the TLS
// probe) answer as the glibc build's do in Node. NO echo: there is no musl Node on
// the npm registry (node-linux-x64-musl / node-linux-arm64-musl do not exist), and
// Bun cannot run ringnet's loop: its libuv is partial and `uv_poll_init` panics
// ("unsupported uv function: uv_poll_init", Bun 1.4.5). The echo runs on glibc
// (prebuild:test, x64 here and arm64 under qemu) from the same sources.
//
// Making Bun's musl build start on Debian (Alpine's libs are not reachable here):
//   - libc.musl-<arch>.so.1 (Alpine's soname) -> Debian's musl libc.so;
//   - libstdc++.so.6 + libgcc_s.so.1: Debian's own (glibc builds; musl's loader maps
//     their libc.so.6/libm.so.6 to itself and does not check symbol versions);
//   - the glibc-only symbols those two import (7: arc4random, __strftime_l,
//     __cxa_thread_atexit_impl, __libc_single_threaded, _dl_find_object,
//     __cpu_model, __cpu_indicator_init; __getauxval on arm64) from a small shim,
//     LD_PRELOADed (and named ld-linux-x86-64.so.2 too: x64's libstdc++ NEEDs that),
//     built here with musl-gcc / aarch64-linux-gnu-gcc -nostdlib against musl's libc;
//   - the OpenSSL symbols the addon leaves to Node (Bun has BoringSSL inside and
//     exports none): stubs in the same shim that abort if called. The addon's TLS
//     probe looks for OpenSSL in the executable's own symbols, finds none and says so
//     (checked), so none is called (OpenSSL_version_num would return 0: "older than 3.0").
// All of this lives in a temp dir; Bun's tarball is cached in .cache/ (gitignored).
// Exits 0 ok, 1 on a failed check, 3 when a tool is missing (musl, musl-gcc, the
// aarch64 cross gcc, qemu).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const qemu = require('./prebuild-qemu');

const root = path.join(__dirname, '..');
const BUN_VERSION = '1.4.5'; // the repo's devDependency bun
const ARCH = {
  x64: {
    pkg: '@oven/bun-linux-x64-musl', soname: 'libc.musl-x86_64.so.1', musl: '/usr/lib/x86_64-linux-musl/libc.so',
    interp: '/lib/ld-musl-x86_64.so.1', shimName: 'ld-linux-x86-64.so.2', cc: ['musl-gcc'],
    libstdcxx: '/usr/lib/x86_64-linux-gnu/libstdc++.so.6', libgcc: '/lib/x86_64-linux-gnu/libgcc_s.so.1', run: [],
  },
  arm64: {
    pkg: '@oven/bun-linux-aarch64-musl', soname: 'libc.musl-aarch64.so.1', musl: '/usr/lib/aarch64-linux-musl/libc.so',
    interp: '/lib/ld-musl-aarch64.so.1', shimName: 'ld-linux-aarch64.so.1', cc: ['aarch64-linux-gnu-gcc', '-nostdlib'],
    libstdcxx: `${qemu.CROSS}/libstdc++.so.6`, libgcc: `${qemu.CROSS}/libgcc_s.so.1`, run: ['qemu-aarch64-static'],
  },
};

const SHIM_C = String.raw`
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

char __libc_single_threaded = 0;
uint32_t arc4random(void) {
  uint32_t v = 0;
  while (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {}
  return v;
}
unsigned long getauxval(unsigned long);
unsigned long __getauxval(unsigned long t) { return getauxval(t); }
size_t __strftime_l(char *s, size_t n, const char *f, const struct tm *tm, locale_t l) { return strftime_l(s, n, f, tm, l); }

struct tls_dtor { void (*fn)(void *); void *obj; struct tls_dtor *next; };
static pthread_key_t dtor_key;
static pthread_once_t dtor_once = PTHREAD_ONCE_INIT;
static void run_dtors(void *p) { for (struct tls_dtor *d = p, *n; d; d = n) { n = d->next; d->fn(d->obj); free(d); } }
static void make_key(void) { pthread_key_create(&dtor_key, run_dtors); }
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso) {
  (void)dso;
  pthread_once(&dtor_once, make_key);
  struct tls_dtor *d = malloc(sizeof *d);
  if (!d) return -1;
  d->fn = fn; d->obj = obj; d->next = pthread_getspecific(dtor_key);
  return pthread_setspecific(dtor_key, d);
}

/* glibc 2.35's _dl_find_object, for libgcc_s's unwinder, from dl_iterate_phdr. */
struct rn_dlfo { unsigned long long flags; void *map_start, *map_end; void *link_map; void *eh_frame; unsigned long long reserved[7]; };
struct find_arg { uintptr_t pc; struct rn_dlfo *out; int found; };
static int find_cb(struct dl_phdr_info *info, size_t size, void *p) {
  (void)size;
  struct find_arg *a = p;
  uintptr_t lo = UINTPTR_MAX, hi = 0; void *eh = NULL; int hit = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t s = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD) {
      if (s < lo) lo = s;
      if (s + ph->p_memsz > hi) hi = s + ph->p_memsz;
      if (a->pc >= s && a->pc < s + ph->p_memsz) hit = 1;
    } else if (ph->p_type == PT_GNU_EH_FRAME) {
      eh = (void *)s;
    }
  }
  if (!hit) return 0;
  memset(a->out, 0, sizeof *a->out);
  a->out->map_start = (void *)lo; a->out->map_end = (void *)hi; a->out->eh_frame = eh;
  a->found = 1;
  return 1;
}
int rn_dl_find_object(void *pc, struct rn_dlfo *out) __asm__("_dl_find_object"); /* glibc's dlfcn.h declares its own */
int rn_dl_find_object(void *pc, struct rn_dlfo *out) {
  struct find_arg a = { (uintptr_t)pc, out, 0 };
  dl_iterate_phdr(find_cb, &a);
  return a.found && out->eh_frame ? 0 : -1;
}
struct { unsigned vendor, type, subtype; unsigned features[1]; } __cpu_model;
unsigned __cpu_features2[3];
int __cpu_indicator_init(void) { return 0; }

unsigned long OpenSSL_version_num(void) { return 0; }
static void no_openssl(const char *s) { fprintf(stderr, "prebuild-musl-bun: %s called: this host has no OpenSSL\n", s); abort(); }
`;

function parse(argv) {
  const o = { arch: 'x64', dir: path.join(root, 'prebuilds') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--arch') o.arch = argv[++i];
    else if (argv[i] === '--dir') o.dir = path.resolve(argv[++i]);
    else { console.error('usage: node scripts/prebuild-musl-bun.js [--arch x64|arm64] [--dir prebuilds]'); process.exit(2); }
  }
  if (!ARCH[o.arch]) { console.error(`--arch ${o.arch}: x64 or arm64`); process.exit(2); }
  return o;
}

function fetchBun(pkg) {
  const cache = path.join(root, '.cache', pkg.replace('/', '+'));
  const bin = path.join(cache, 'package', 'bin', 'bun');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(cache, { recursive: true });
  const p = spawnSync('npm', ['pack', `${pkg}@${BUN_VERSION}`, '--silent'], { cwd: cache, encoding: 'utf8', timeout: 300000 });
  if (p.status !== 0) throw new Error(`npm pack ${pkg}@${BUN_VERSION} failed: ${p.stderr || p.error}`);
  const tgz = path.join(cache, p.stdout.trim().split('\n').pop());
  const t = spawnSync('tar', ['xzf', tgz, '-C', cache], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`tar ${tgz}: ${t.stderr}`);
  fs.rmSync(tgz, { force: true });
  return bin;
}

// Undefined symbols of the .node, and the defined ones of musl's libc (nm -D).
function nmD(file, flag) {
  const r = spawnSync('nm', ['-D', flag, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nm -D ${file}: ${r.stderr}`);
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 2).map((f) => f[f.length - 1].split('@')[0]);
}

// What the glibc build says in the host's Node, for the same calls.
const PROBE_JS = String.raw`
const file = process.argv[2];
const m = { exports: {} };
process.dlopen(m, file);
const e = m.exports;
const shape = Object.keys(e).sort().map((k) => k + ':' + typeof e[k]);
const out = { shape, layoutVersion: e.layoutVersion, backend: e.backend, errname: [e.errname(98), e.errname(104), e.errname(111)],
  cpus: e.allowedCpus().length, tid: Number.isInteger(e.threadId()) && e.threadId() > 0 };
out.tls = e.tlsUnavailable();
const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
out.libs = [...new Set(maps.split('\n').map((l) => l.split(/\s+/)[5]).filter((p) => /\.so|\.node$/.test(p || '')))].map((p) => require('path').basename(p));
console.log('RESULT ' + JSON.stringify(out));
`;

function main() {
  const o = parse(process.argv.slice(2));
  const a = ARCH[o.arch];
  const file = path.join(o.dir, `linux-${o.arch}`, 'ringnet.napi.musl.node');
  const glibcFile = path.join(o.dir, 'linux-x64', 'ringnet.napi.glibc.node');
  for (const f of [file, glibcFile]) if (!fs.existsSync(f)) { console.log(`prebuild:musl-bun: FAIL ${f} missing (npm run prebuild:all first)`); return 1; }
  for (const f of [a.musl, a.interp, a.libstdcxx, a.libgcc]) {
    if (!fs.existsSync(f)) { console.log(`prebuild:musl-bun: NOT RUN: ${f} missing (apt-get install musl musl-dev${o.arch === 'arm64' ? ' musl:arm64 gcc-aarch64-linux-gnu' : ''})`); return 3; }
  }
  if (o.arch === 'arm64' && qemu.missing()) { console.log(`prebuild:musl-bun: NOT RUN: ${qemu.missing()} missing`); return 3; }
  const t0 = Date.now();
  const bun = fetchBun(a.pkg);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-musl-bun-'));
  try {
    const lib = path.join(tmp, 'lib');
    fs.mkdirSync(lib);
    fs.symlinkSync(a.musl, path.join(lib, a.soname));
    fs.copyFileSync(a.libstdcxx, path.join(lib, 'libstdc++.so.6'));
    fs.copyFileSync(a.libgcc, path.join(lib, 'libgcc_s.so.1'));
    const musl = new Set(nmD(a.musl, '--defined-only'));
    const stubs = nmD(file, '--undefined-only').filter((s) => !musl.has(s) && !/^(napi_|uv_|node_|_ITM_|__gmon_start__|__cxa_finalize)/.test(s) && s !== 'OpenSSL_version_num');
    const c = SHIM_C + stubs.map((s) => `void ${s}(void) { no_openssl("${s}"); }`).join('\n') + '\n';
    fs.writeFileSync(path.join(tmp, 'shim.c'), c);
    const shim = path.join(lib, 'ringnet-glibc-shim.so');
    const cc = spawnSync(a.cc[0], [...a.cc.slice(1), '-O2', '-shared', '-fPIC', '-fno-stack-protector', '-w', '-o', shim,
      path.join(tmp, 'shim.c'), ...(o.arch === 'arm64' ? [`-L${path.dirname(a.musl)}`, '-lc'] : [])], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) {
      if (cc.error && cc.error.code === 'ENOENT') { console.log(`prebuild:musl-bun: NOT RUN: ${a.cc[0]} missing`); return 3; }
      throw new Error(`${a.cc[0]} shim.c: ${(cc.stderr || '').trim().split('\n').slice(-5).join(' | ')}`);
    }
    // x64's libstdc++ also NEEDs ld-linux-x86-64.so.2: the shim under that name too.
    fs.symlinkSync(shim, path.join(lib, a.shimName));
    fs.writeFileSync(path.join(tmp, 'probe.js'), PROBE_JS);
    const want = spawnSync(process.execPath, [path.join(tmp, 'probe.js'), glibcFile], { encoding: 'utf8', timeout: 60000 });
    const wantLine = /^RESULT (.*)$/m.exec(want.stdout || '');
    if (!wantLine) throw new Error(`host node with ${glibcFile}: ${want.stdout}${want.stderr}`);
    const env = { ...process.env, LD_LIBRARY_PATH: lib, LD_PRELOAD: shim, BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', BUN_INSTALL_CACHE_DIR: path.join(tmp, 'cache') };
    delete env.NODE_OPTIONS;
    const argv = [...(o.arch === 'arm64' ? ['qemu-aarch64-static'] : []), bun, path.join(tmp, 'probe.js'), file];
    const got = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env, cwd: tmp, timeout: (o.arch === 'arm64' ? 240 : 60) * 1000, killSignal: 'SIGKILL' });
    const out = `${got.stdout || ''}${got.stderr || ''}`;
    const gotLine = /^RESULT (.*)$/m.exec(got.stdout || '');
    if (got.status !== 0 || !gotLine) throw new Error(`Bun ${BUN_VERSION} musl (${a.pkg}) exited ${got.status}${got.error ? ` (${got.error.message})` : ''}: ${out.trim().split('\n').slice(-8).join(' | ')}`);
    const w = JSON.parse(wantLine[1]);
    const g = JSON.parse(gotLine[1]);
    const bad = Object.keys(w).filter((k) => k !== 'tls' && k !== 'libs' && JSON.stringify(w[k]) !== JSON.stringify(g[k]));
    // The TLS probe: Node's OpenSSL 3 in Node; in Bun the addon's own lookup finds no
    // OpenSSL in the executable and says so, calling none of the stubs.
    const tlsBad = [];
    // In Bun: musl's libc mapped (its loader is its libc), glibc's not.
    const muslLibc = path.basename(a.musl);
    if (!g.libs.includes(muslLibc) && !g.libs.includes(path.basename(a.interp))) tlsBad.push(`musl libc not mapped in Bun: ${g.libs.join(' ')}`);
    if (g.libs.includes('libc.so.6')) tlsBad.push(`glibc's libc.so.6 mapped in Bun: ${g.libs.join(' ')}`);
    if (!g.libs.includes(path.basename(file))) tlsBad.push(`${path.basename(file)} not mapped in Bun: ${g.libs.join(' ')}`);
    if (w.tls) tlsBad.push(`tls in Node: ${w.tls}`);
    if (!/no OpenSSL 3|older than 3\.0/.test(String(g.tls))) tlsBad.push(`tls in Bun: ${JSON.stringify(g.tls)} (expected ERR_RINGNET_TLS_UNAVAILABLE's reason)`);
    if (bad.length || tlsBad.length) throw new Error(`musl build in Bun differs from the glibc build in Node: ${[...bad.map((k) => `${k}: ${JSON.stringify(g[k])} vs ${JSON.stringify(w[k])}`), ...tlsBad].join('; ')}`);
    console.log(`prebuild:musl-bun: ok ${path.relative(root, file)} in Bun ${BUN_VERSION} (${a.pkg}${o.arch === 'arm64' ? ', under qemu-aarch64-static' : ''}) with ${a.interp}: ` +
      `mapped ${g.libs.map((l) => (l === 'ringnet-glibc-shim.so' ? `${l} (as ${a.shimName} too)` : l)).join(" ")}; module init ok, ${g.shape.length} exports as the glibc build's, layout ${g.layoutVersion}, backend ${g.backend}, errname ${g.errname.join('/')}, ${g.cpus} cpus; ` +
      `TLS: "${g.tls}"; ${stubs.length} OpenSSL imports stubbed; no echo (Bun has no uv_poll); ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    console.log(`prebuild:musl-bun: FAIL ${err.message}`);
    return 1;
  } finally {
    if (process.env.RINGNET_MUSL_BUN_KEEP) console.log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = main();
