'use strict';
// `npm run bench [-- options]`: builds what the ringnet server needs if it is
// missing, then runs the echo benchmark (bench/echo.js) with the same options.
// `npm run bench -- http [options]` / `-- resp [options]`: the protocol benches
// (bench/http.js: wrk; bench/resp.js: redis-benchmark) on the examples;
// `-- tls [options]`: TLS echo (bench/tls.js).
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

function wantsRingnet() {
  const i = args.indexOf('--servers');
  return i < 0 || (args[i + 1] || '').split(',').includes('ringnet');
}

// A failed build is not fatal: the benchmark reports ringnet as skipped or
// failed and still measures the other servers.
function ensure(what, missing, command) {
  if (!missing()) return;
  console.log(`bench: ${what} missing, running \`${command}\``);
  try {
    execSync(command, { cwd: ROOT, stdio: 'inherit' });
  } catch (err) {
    console.warn(`bench: WARNING: \`${command}\` failed (${err.message.split('\n')[0]}); ringnet may be skipped`);
  }
}

if (wantsRingnet() && !args.includes('--help')) {
  ensure('dist/cli.js', () => !fs.existsSync(path.join(ROOT, 'dist', 'cli.js')), 'npx tsc -p tsconfig.json');
  const release = path.join(ROOT, 'build', 'Release');
  const noAddon = () => !fs.existsSync(release) || !fs.readdirSync(release).some((f) => f.endsWith('.node'));
  ensure('native addon (build/Release/*.node)', noAddon, 'npx node-gyp rebuild');
}

// `npm run bench -- tls [--quick]`: the TLS echo bench (bench/tls.js).
// `npm run bench -- udp [--quick]`: the UDP echo bench (bench/udp.js).
if (args[0] === 'udp') {
  require('../bench/udp.js').main(args.slice(1)).then((code) => process.exit(code), (err) => {
    console.error(`bench: ${err.message}`);
    process.exit(1);
  });
  return;
}
const proto = args[0] === 'http' || args[0] === 'resp' || args[0] === 'tls' ? args.shift() : null;
if (proto && proto !== 'tls') {
  const project = path.join(ROOT, 'dist', 'examples', proto, 'main.js');
  ensure(`dist/examples/${proto}`, () => !fs.existsSync(project), 'npx tsc -p examples/tsconfig.json');
}

require(proto ? `../bench/${proto}.js` : '../bench/echo.js').main(args).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${err.message}`);
    process.exit(1);
  },
);
