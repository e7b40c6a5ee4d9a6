// One source of truth for the memory JS and native share: lib/layout.ts is
// generated from native/core/loop/layout.h, and the addon reports the layout
// version it was built with (issue 9).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const gen = path.join(root, 'scripts', 'gen-layout.js');

function check(dir) {
  return spawnSync(process.execPath, [path.join(dir, 'scripts', 'gen-layout.js'), '--check'], { encoding: 'utf8' });
}

test('lib/layout.ts is what scripts/gen-layout.js makes of layout.h', () => {
  const r = spawnSync(process.execPath, [gen, '--check'], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
});

test('the drift check fails when layout.h changes and lib/layout.ts does not', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-layout-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of ['scripts/gen-layout.js', 'native/core/loop/layout.h', 'native/core/loop/taskq.h', 'lib/layout.ts']) {
    fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(dir, f));
  }
  assert.strictEqual(check(dir).status, 0);
  const h = path.join(dir, 'native/core/loop/layout.h');
  fs.writeFileSync(h, fs.readFileSync(h, 'utf8').replace('constexpr int OP_EPOCH = 3;', 'constexpr int OP_EPOCH = 2;'));
  const r = check(dir);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /out of date/);
});

test('every constant lib/ reads is generated, OP_EPOCH and the socket-option codes included', () => {
  const layout = require('../../dist/layout.js');
  for (const name of ['OP_EPOCH', 'COPT_NODELAY', 'COPT_KEEPALIVE', 'COPT_SNDBUF', 'COPT_RCVBUF', 'CF_PEER_EOF', 'TASK_ADOPT']) {
    assert.strictEqual(typeof layout[name], 'number', name);
  }
  assert.strictEqual(layout.STAT_NAMES.length, layout.ST_COUNT);
});

test('the addon was built for the layout this JavaScript expects', () => {
  const { addon } = require('../../dist/native.js');
  const { LAYOUT_VERSION } = require('../../dist/layout.js');
  assert.strictEqual(addon.layoutVersion, LAYOUT_VERSION);
});
