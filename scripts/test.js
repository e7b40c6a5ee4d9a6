#!/usr/bin/env node
// npm test: build what is stale (TypeScript, the addon), run the JS tests with
// node --test, then the native CTest suite (plain and under ASan+UBSan).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const only = (name) => args.length === 0 || args.includes(name);

function run(cmd, argv, opts = {}) {
  console.log(`\n$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`\nnpm test: '${cmd} ${argv.join(' ')}' failed (${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function newest(dir, exts) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

const nodeGyp = process.env.npm_config_node_gyp || require.resolve('node-gyp/bin/node-gyp.js', { paths: [path.dirname(process.execPath) + '/../lib/node_modules/npm'] });
const addon = path.join(root, 'build', 'Release', 'ringnet.node');
if (mtime(addon) < Math.max(newest(path.join(root, 'native'), ['.cc', '.h']), mtime(path.join(root, 'binding.gyp')))) {
  run(process.execPath, [nodeGyp, 'rebuild']);
}
if (mtime(path.join(root, 'dist', 'index.js')) < newest(path.join(root, 'lib'), ['.ts'])) {
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}
// examples/ (the HTTP and RESP servers the tests drive) compile against dist/index.d.ts.
if (mtime(path.join(root, 'dist', 'examples', 'resp', 'main.js')) < Math.max(newest(path.join(root, 'examples'), ['.ts']), mtime(path.join(root, 'dist', 'index.js')))) {
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'examples/tsconfig.json']);
}

if (only('js')) {
  run(process.execPath, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', 'test/js/']);
}
if (only('fuzz') && fs.existsSync(path.join(root, 'scripts', 'fuzz.js'))) {
  run(process.execPath, [path.join(root, 'scripts', 'fuzz.js')]); // op decoder, ~60 s (RINGNET_FUZZ_SECONDS)
}
if (only('native') && fs.existsSync(path.join(root, 'scripts', 'ctest.js'))) {
  run(process.execPath, [path.join(root, 'scripts', 'ctest.js'), ...(process.env.RINGNET_NO_ASAN ? ['--no-asan'] : [])]);
}
