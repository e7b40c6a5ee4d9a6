#!/usr/bin/env node
// `npm run example:http -- --port N [--loops K]` / `npm run example:resp -- …`:
// compiles what is stale (lib/ -> dist/, examples/ -> dist/examples/, with tsc;
// nothing is transpiled at run time), then runs the example's compiled main.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const which = process.argv[2];
const mains = { http: 'http/main.js', resp: 'resp/main.js', 'resp-node': 'resp/node-main.js' };
if (!mains[which]) {
  console.error(`usage: node scripts/example.js ${Object.keys(mains).join('|')} [--port N] [--loops K]`);
  process.exit(2);
}

function newest(dir, ext) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}
const mtime = (p) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0);
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
function build(project) {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}
if (mtime(path.join(root, 'dist', 'index.js')) < newest(path.join(root, 'lib'), '.ts')) build('tsconfig.json');
const main = path.join(root, 'dist', 'examples', mains[which]);
if (mtime(main) < Math.max(newest(path.join(root, 'examples'), '.ts'), mtime(path.join(root, 'dist', 'index.js')))) build('examples/tsconfig.json');
process.argv.splice(1, 2, main); // the example sees its own flags
require(main);
