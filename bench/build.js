'use strict';
// Compiles the native bench tools into bench/bin/, skipping up-to-date ones.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const BIN = path.join(__dirname, 'bin');
// Included by the load generators: a change rebuilds them.
const HEADER = path.join(__dirname, 'cpu_clock.h');
const TOOLS = [
  { name: 'loadgen', src: 'loadgen.c', libs: ['-lpthread'] },
  { name: 'c_echo', src: 'c_echo.c', libs: [] },
  { name: 'echocheck', src: 'echocheck.c', libs: [] },
  { name: 'udp_load', src: 'udp_load.c', libs: [] },
  { name: 'c_udp_echo', src: 'c_udp_echo.c', libs: [] },
  // The TLS bench (bench/tls.js): the system's libssl (libssl-dev), separate programs.
  { name: 'tls_load', src: 'tls_load.c', libs: ['-lssl', '-lcrypto'], tls: true },
  { name: 'c_tls_echo', src: 'c_tls_echo.c', libs: ['-lssl', '-lcrypto'], tls: true },
];

const mtime = (file) => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
};

/** Returns { loadgen, c_echo, echocheck } paths (tls: also tls_load, c_tls_echo); throws if a compile fails. */
function build({ quiet = false, tls = false } = {}) {
  fs.mkdirSync(BIN, { recursive: true });
  const out = {};
  for (const tool of TOOLS) {
    if (tool.tls && !tls) continue;
    const src = path.join(__dirname, tool.src);
    const exe = path.join(BIN, tool.name);
    out[tool.name] = exe;
    if (mtime(exe) >= Math.max(mtime(src), mtime(HEADER))) continue;
    const args = ['-O2', '-Wall', '-o', exe, src, ...tool.libs];
    if (!quiet) console.log(`bench: cc ${args.join(' ')}`);
    execFileSync(process.env.CC || 'cc', args, { stdio: 'inherit' });
  }
  return out;
}

module.exports = { build };
if (require.main === module) build();
