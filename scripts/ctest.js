#!/usr/bin/env node
// Native tests: configure, build and run the CTest suite in build-native/ and again
// under ASan+UBSan in build-asan/ (RINGNET_SANITIZE=ON).
//   node scripts/ctest.js [--no-asan]
// Exits non-zero if any step fails. RINGNET_SEED / RINGNET_HAMMER_MS pass through to
// the hammer test; CMAKE_BUILD_PARALLEL_LEVEL overrides -j2.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--no-asan') {
    console.error(`ctest.js: unknown argument ${a} (usage: node scripts/ctest.js [--no-asan])`);
    process.exit(2);
  }
}
const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL || '2';

const builds = [{ name: 'native', dir: 'build-native', flags: [] }];
if (!args.includes('--no-asan')) builds.push({ name: 'asan', dir: 'build-asan', flags: ['-DRINGNET_SANITIZE=ON'] });

// Run a command with its output shown as it comes; resolves to { code, out }.
function run(cmd, argv) {
  console.log(`\n$ ${cmd} ${argv.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => process.stderr.write(d));
    child.on('error', (err) => resolve({ code: 127, out: `${cmd}: ${err.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? 128, signal, out }));
  });
}

async function main() {
  const summary = [];
  let failed = false;
  for (const b of builds) {
    const t0 = Date.now();
    const steps = [
      ['cmake', ['-S', '.', '-B', b.dir, '-DRINGNET_TESTS=ON', ...b.flags]],
      ['cmake', ['--build', b.dir, '-j', jobs]],
      ['ctest', ['--test-dir', b.dir, '--output-on-failure']],
    ];
    let result = 'ok';
    for (const [cmd, argv] of steps) {
      const r = await run(cmd, argv);
      if (cmd === 'ctest') {
        for (const line of r.out.split('\n')) {
          if (/tests passed|tests failed out of|Total Test time|^\s+\d+ - /.test(line)) summary.push(`${b.name}: ${line.trim()}`);
        }
      }
      if (r.code !== 0) {
        result = `'${cmd} ${argv.join(' ')}' failed (${r.signal || r.code})`;
        if (r.code === 127) result += ': is it installed?';
        break;
      }
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    summary.push(`${b.name}: ${result} in ${secs} s`);
    if (result !== 'ok') {
      failed = true;
      break;
    }
  }
  console.log('\nnative tests:');
  for (const line of summary) console.log(`  ${line}`);
  process.exit(failed ? 1 : 0);
}

main();
