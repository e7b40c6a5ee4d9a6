#!/usr/bin/env node
// npm run check:darwin — compile the whole addon for x86_64-macos and aarch64-macos
// with the pinned Zig (scripts/zig-build.js) and check each Mach-O .node:
//   - it is a 64-bit Mach-O dylib/bundle for the right CPU;
//   - it exports _napi_register_module_v1 (what Node's dlopen looks for);
//   - it loads only /usr/lib/libSystem.B.dylib (and /usr/lib/libc++.1.dylib if linked);
//   - every symbol left for the loader to find at run time (-undefined
//     dynamic_lookup: the flat-namespace ordinal) is one Node exports (napi_*,
//     node_api_*, uv_*); anything else binds to libSystem — so a call that exists
//     only on Linux cannot hide until a Mac loads the file.
// Outputs: build-darwin/<arch>/ringnet.node. Needs nothing beyond npm ci.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { zigBuild } = require('./zig-build');

const root = path.join(__dirname, '..');
const TARGETS = [
  { target: 'x86_64-macos', arch: 'x64', cpu: 0x01000007 },
  { target: 'aarch64-macos', arch: 'arm64', cpu: 0x0100000c },
];
const ALLOWED_DYLIBS = ['/usr/lib/libSystem.B.dylib', '/usr/lib/libc++.1.dylib'];
// TLS (issue 11) uses the OpenSSL 3 the node binary exports: libssl/libcrypto's
// prefixes are Node's symbols too (one OpenSSL per process; checked at run time).
const NODE_SYMBOL = /^_(napi_|node_api_|uv_|SSL_|SSL_CTX_|TLS_|BIO_|X509_|X509V3_|EVP_|ERR_|PEM_|OPENSSL_|OpenSSL_|ASN1_|BN_|OBJ_|a2i_|d2i_|i2d_|CRYPTO_|PKCS12_)/;

const LC_SYMTAB = 0x2;
const DYLIB_CMDS = new Set([0xc, 0x80000018, 0x8000001f, 0x20, 0x80000023]); // LOAD, LOAD_WEAK, REEXPORT, LAZY_LOAD, LOAD_UPWARD
const MH_DYLIB = 6;
const MH_BUNDLE = 8;
const DYNAMIC_LOOKUP_ORDINAL = 0xfe;

// A small Mach-O 64 reader: header, dylib load commands, symbol table.
function readMachO(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32LE(0) !== 0xfeedfacf) throw new Error(`${file}: not a 64-bit little-endian Mach-O file`);
  const cpu = b.readUInt32LE(4);
  const filetype = b.readUInt32LE(12);
  const ncmds = b.readUInt32LE(16);
  const dylibs = [];
  let symtab = null;
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = b.readUInt32LE(off);
    const size = b.readUInt32LE(off + 4);
    if (DYLIB_CMDS.has(cmd)) {
      const nameOff = b.readUInt32LE(off + 8);
      const end = b.indexOf(0, off + nameOff);
      dylibs.push(b.toString('utf8', off + nameOff, end));
    } else if (cmd === LC_SYMTAB) {
      symtab = { symoff: b.readUInt32LE(off + 8), nsyms: b.readUInt32LE(off + 12), stroff: b.readUInt32LE(off + 16) };
    }
    off += size;
  }
  const exported = [];
  const imports = [];  // { name, ordinal }
  if (symtab) {
    for (let i = 0; i < symtab.nsyms; i++) {
      const e = symtab.symoff + i * 16;
      const strx = b.readUInt32LE(e);
      const type = b[e + 4];
      const desc = b.readUInt16LE(e + 6);
      if (type & 0xe0) continue; // N_STAB debugging entries
      const name = b.toString('utf8', symtab.stroff + strx, b.indexOf(0, symtab.stroff + strx));
      const ext = type & 0x01;
      const kind = type & 0x0e;
      if (ext && kind === 0x0e) exported.push(name);
      else if (ext && kind === 0x00) imports.push({ name, ordinal: (desc >> 8) & 0xff });
    }
  }
  return { cpu, filetype, dylibs, exported, imports };
}

function check(file, want) {
  const m = readMachO(file);
  const problems = [];
  if (m.cpu !== want.cpu) problems.push(`CPU type 0x${m.cpu.toString(16)}, expected 0x${want.cpu.toString(16)}`);
  if (m.filetype !== MH_DYLIB && m.filetype !== MH_BUNDLE) problems.push(`file type ${m.filetype} is not a dylib or bundle`);
  if (!m.exported.includes('_napi_register_module_v1')) problems.push('does not export _napi_register_module_v1');
  for (const d of m.dylibs) if (!ALLOWED_DYLIBS.includes(d)) problems.push(`links ${d}`);
  if (!m.dylibs.includes('/usr/lib/libSystem.B.dylib')) problems.push('does not link libSystem');
  const flat = m.imports.filter((s) => s.ordinal === DYNAMIC_LOOKUP_ORDINAL);
  const stray = flat.filter((s) => !NODE_SYMBOL.test(s.name)).map((s) => s.name);
  if (stray.length) problems.push(`left for the loader to find, and not Node's: ${stray.join(', ')}`);
  const badOrdinal = m.imports.filter((s) => s.ordinal !== DYNAMIC_LOOKUP_ORDINAL && (s.ordinal < 1 || s.ordinal > m.dylibs.length));
  if (badOrdinal.length) problems.push(`imports with no library: ${badOrdinal.map((s) => s.name).join(', ')}`);
  return { m, flat, problems };
}

async function main() {
  const t0 = Date.now();
  const builds = await Promise.all(
    TARGETS.map((t) => zigBuild({ target: t.target, out: path.join('build-darwin', t.arch, 'ringnet.node'), jobs: 1 }).then((r) => ({ ...t, ...r }))),
  );
  let failed = false;
  for (const b of builds) {
    const { m, flat, problems } = check(path.resolve(root, b.out), b);
    const nodeSyms = flat.length;
    const libSyms = m.imports.length - nodeSyms;
    console.log(`${b.target}: ${b.out}, ${b.bytes} bytes, built in ${b.seconds.toFixed(1)} s`);
    console.log(`  exports _napi_register_module_v1: ${m.exported.includes('_napi_register_module_v1') ? 'yes' : 'NO'}`);
    console.log(`  links: ${m.dylibs.join(', ')}`);
    console.log(`  imports: ${libSyms} from libSystem, ${nodeSyms} from Node at load (napi_*/uv_*/OpenSSL)`);
    for (const p of problems) console.log(`  FAIL: ${p}`);
    failed = failed || problems.length > 0;
  }
  console.log(`check:darwin ${failed ? 'FAILED' : 'ok'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(failed ? 1 : 0);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`check:darwin: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { readMachO, check };
