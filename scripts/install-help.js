#!/usr/bin/env node
'use strict';
// Runs only when `node-gyp-build` (the install script) failed: no prebuilt
// binary in prebuilds/ matched this machine and building from source failed.
// node-gyp's own log above says which step broke; this says what to install.
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');

const platform = os.platform();
const target = `${platform}-${os.arch()}`;
const musl = platform === 'linux' && fs.existsSync('/etc/alpine-release');
const has = (f) => fs.existsSync(path.join(__dirname, '..', 'native', 'core', f));
// A platform is buildable once its poller backend is in the package.
const backend = { linux: 'poller/poller_epoll.cc', darwin: 'poller/poller_kqueue.cc', freebsd: 'poller/poller_kqueue.cc', openbsd: 'poller/poller_kqueue.cc' }[platform];

if (!backend || !has(backend)) {
  process.stderr.write(`\nringnet: ${platform} is not supported yet: this version has no event-loop backend for it (Linux only).\n`);
  process.exit(1);
}

let how;
if (platform === 'darwin') how = '  xcode-select --install                    # clang and make';
else if (musl) how = '  apk add python3 make g++';
else if (platform === 'linux') {
  how = [
    '  apt-get install python3 make g++          # Debian, Ubuntu',
    '  dnf install python3 make gcc-c++          # Fedora, RHEL',
  ].join('\n');
} else how = '  pkg install python3 gmake                 # FreeBSD (clang is in base)';

process.stderr.write(`
ringnet: no prebuilt binary for ${target}${musl ? ' (musl)' : ''} and building from source failed.
To build it, install python3, make and a C++17 compiler (g++ 8+ or clang 7+), e.g.
${how}
then run:  npm rebuild ringnet
Building also needs Node's headers: node-gyp downloads them, or set
npm_config_nodedir to a Node install that has include/node (e.g. /usr).
`);
process.exit(1);
