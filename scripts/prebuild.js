#!/usr/bin/env node
'use strict';
// `npm run prebuild`: build the addon for this platform with prebuildify and
// leave it, stripped, in prebuilds/<platform>-<arch>/ — the layout that
// node-gyp-build (the install script and the loader) looks in.
//
// - Node-API, not a Node ABI: binding.gyp pins NAPI_VERSION=8, so one binary
//   loads in every Node that has Node-API 8 (12.22+, 14.17+, 16+, …) and in
//   Electron. The file is tagged `napi` so node-gyp-build knows it is
//   runtime-agnostic: prebuilds/linux-x64/ringnet.napi.glibc.node.
// - On Linux it is also tagged with its libc, so a glibc build is never picked
//   on musl (Alpine): there no prebuild matches and install builds from source.
// - It is compiled against the running Node's headers (target = this Node).
//   With Node-API the headers' version only decides what is declared;
//   NAPI_VERSION decides what may be used. When those headers sit next to this
//   node binary (<prefix>/include/node), node-gyp uses them instead of
//   downloading a tarball, so this works offline.
//
// Options after `--`: --arch A, --platform P (cross builds), --strip-bin B, --no-strip, --quiet.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const prebuildify = require('prebuildify');

const root = path.join(__dirname, '..');
const argv = parseArgs(process.argv.slice(2));
const platform = argv.platform || process.env.PREBUILD_PLATFORM || os.platform();
const arch = argv.arch || process.env.PREBUILD_ARCH || os.arch();

function parseArgs(args) {
  const o = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--quiet') o.quiet = true;
    else if (a === '--no-strip') o.strip = false;
    else if (/^--(arch|platform|strip-bin)$/.test(a) && args[i + 1]) o[a.slice(2)] = args[++i];
    else {
      console.error(`prebuild: unknown argument '${a}' (known: --arch A, --platform P, --strip-bin B, --no-strip, --quiet)`);
      process.exit(2);
    }
  }
  return o;
}

function nodeGyp() {
  if (process.env.PREBUILD_NODE_GYP) return process.env.PREBUILD_NODE_GYP;
  // npm sets this to its bundled node-gyp inside `npm run`.
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {}
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return fs.existsSync(bundled) ? bundled : 'node-gyp';
}

// Local headers for this very Node, when installed (Debian's nodejs, the
// official tarballs): saves node-gyp a download it cannot make offline.
if (!process.env.npm_config_nodedir) {
  const prefix = path.join(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) process.env.npm_config_nodedir = prefix;
}

// Stale prebuilds from older naming schemes would sit beside the new one.
const out = path.join(root, 'prebuilds', `${platform}-${arch}`);
fs.rmSync(out, { recursive: true, force: true });

const t0 = Date.now();
prebuildify(
  {
    cwd: root,
    napi: true,
    targets: [process.versions.node],
    strip: argv.strip !== false,
    stripBin: argv['strip-bin'] || process.env.PREBUILD_STRIP_BIN || 'strip',
    arch,
    platform,
    // prebuildify names the file after `name` plus tags; `.napi` marks the
    // Node-API build (prebuildify ≥5 leaves that tag out).
    name: 'ringnet.napi',
    tagLibc: platform === 'linux',
    nodeGyp: nodeGyp(),
    quiet: !!argv.quiet,
  },
  (err) => {
    if (err) {
      console.error(`prebuild: ${err.message || err}`);
      process.exit(1);
    }
    for (const f of fs.readdirSync(out)) {
      const size = fs.statSync(path.join(out, f)).size;
      console.log(`prebuild: ${path.relative(root, path.join(out, f))} (${(size / 1024).toFixed(0)} KiB, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  },
);
