'use strict';
// The aarch64 user-mode runs (prebuild:test --arch arm64, prebuild:check --load):
// qemu-aarch64-static with a guest sysroot in which the dynamic loader and every
// library come from ONE glibc build.
//
// Why not plain `-L /usr/aarch64-linux-gnu`: qemu's -L maps a guest path to
// <prefix>/<path> only when that file exists there, and otherwise falls back to the
// host's own path. Node asks for /lib/ld-linux-aarch64.so.1 (mapped: the cross
// loader from libc6-arm64-cross, glibc 2.36-8cross1) and then for
// /lib/aarch64-linux-gnu/libc.so.6, which /usr/aarch64-linux-gnu does not have (its
// libraries are in lib/, not lib/aarch64-linux-gnu/), so qemu hands over the host's
// multiarch libc6:arm64 (2.36-9+deb12u14, pulled in by liburing-dev:arm64). A
// loader and a libc from different glibc builds disagree on the private layout
// they share (struct rtld_global): node's first pthread_create() then walks the
// loader's stack cache list forever (libc.so.6 +0x823c8..0x823e4, a three-block
// loop in allocate_stack; found with `qemu-aarch64-static -d exec,nochain` and
// aarch64-linux-gnu-objdump). That was the "node spins under qemu 7.2" seen before:
// not qemu, not a CPU feature, not the page size. `node --version` worked because
// it exits before starting a thread.
//
// The fix: a sysroot of symlinks (in .cache/, gitignored) where both
// /lib/ld-linux-aarch64.so.1 and the multiarch directories point at
// /usr/aarch64-linux-gnu/lib, so the guest sees only the cross glibc (loader, libc,
// libstdc++, libgcc_s all from the gcc-aarch64-linux-gnu packages).
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const CROSS = '/usr/aarch64-linux-gnu/lib';
const SYSROOT = path.join(root, '.cache', 'qemu-aarch64-sysroot');
const LINKS = {
  'lib/ld-linux-aarch64.so.1': `${CROSS}/ld-linux-aarch64.so.1`,
  'lib/aarch64-linux-gnu': CROSS,
  'usr/lib/aarch64-linux-gnu': CROSS,
  'lib64': CROSS,
};

/** What is missing to run aarch64 code here, or null. */
function missing() {
  if (spawnSync('qemu-aarch64-static', ['--version'], { encoding: 'utf8' }).status !== 0) return 'qemu-aarch64-static (apt-get install qemu-user-static)';
  for (const f of ['ld-linux-aarch64.so.1', 'libc.so.6', 'libstdc++.so.6', 'libgcc_s.so.1']) {
    if (!fs.existsSync(path.join(CROSS, f))) return `${CROSS}/${f} (apt-get install gcc-aarch64-linux-gnu libstdc++6-arm64-cross)`;
  }
  return null;
}

/** Creates (once) and returns the one-glibc sysroot for qemu's -L. */
function sysroot() {
  for (const [rel, target] of Object.entries(LINKS)) {
    const p = path.join(SYSROOT, rel);
    let cur = null;
    try { cur = fs.readlinkSync(p); } catch { /* absent */ }
    if (cur === target) continue;
    fs.rmSync(p, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.symlinkSync(target, p);
  }
  return SYSROOT;
}

/** argv prefix that runs an aarch64 Linux executable here. */
function qemuArm64() {
  return ['qemu-aarch64-static', '-L', sysroot()];
}

module.exports = { missing, sysroot, qemuArm64, CROSS };
