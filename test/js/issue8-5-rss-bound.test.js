'use strict';
// Issue 8, item 5: a slow reader against `ringnet echo` keeps the server's RSS
// bounded. bench/slow-reader.js runs the CLI echo against bench/echocheck.c
// clients that send 64 MiB each and read nothing for 1 s, then read it all back
// (every byte checked). Before the fix the server held what the client had not
// read: ~1 MiB of RSS per MiB sent (456 MiB for 400 MiB). Now each connection
// holds at most inboundLimit in + writeBufferCap + one inbound chunk out.
const { test } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

test('issue8-5: ringnet echo vs 2 slow readers of 64 MiB each: RSS grows far less than what they sent', () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'bench', 'slow-reader.js'), '--mib', '64', '--conns', '2', '--pause-ms', '1000', '--json'], {
    encoding: 'utf8',
    timeout: 120000,
  });
  const [row] = JSON.parse(out.trim().split('\n').pop());
  console.log(`slow readers: ${JSON.stringify(row)}`);
  assert.strictEqual(row.ok, true, 'every byte echoed');
  assert.strictEqual(row.sent, row.received);
  assert.strictEqual(row.sent, 2 * 64 * 1024 * 1024);
  // 2 × (4 MiB in + 4 MiB out) + pools and heap; unbounded it would be ≥ 128 MiB.
  assert.ok(row.growthMiB < 64, `server RSS grew ${row.growthMiB} MiB for 128 MiB sent by slow readers`);
});
