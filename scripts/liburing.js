#!/usr/bin/env node
// Prints the path of a static liburing (liburing.a, with liburing.h beside it in an
// include dir) for binding.gyp, or nothing: then the addon is built without the
// io_uring backend and its loops run on epoll. RINGNET_IO_URING=0 forces nothing;
// RINGNET_LIBURING=/path/to/liburing.a names one (e.g. a cross sysroot's).
'use strict';
const fs = require('node:fs');
const os = require('node:os');

function find() {
  if (process.env.RINGNET_IO_URING === '0' || os.platform() !== 'linux') return '';
  if (process.env.RINGNET_LIBURING) return process.env.RINGNET_LIBURING;
  if (!fs.existsSync('/usr/include/liburing.h')) return '';
  const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[os.arch()];
  const dirs = [multiarch && `/usr/lib/${multiarch}`, '/usr/lib64', '/usr/lib', '/usr/local/lib'].filter(Boolean);
  for (const d of dirs) if (fs.existsSync(`${d}/liburing.a`)) return `${d}/liburing.a`;
  return '';
}

process.stdout.write(find());
