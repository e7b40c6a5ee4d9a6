'use strict';
// Helpers for multi-loop tests: the report channel and thread/fd accounting.
const fs = require('node:fs');
const path = require('node:path');
const { BroadcastChannel } = require('node:worker_threads');
const { fdCount } = require('./helpers');

const fixture = (name) => path.join(__dirname, '..', 'fixtures', 'handlers', name);

/** Collects what the fixture handler reports from its loops. */
function reports() {
  const ch = new BroadcastChannel('ringnet-test');
  const events = [];
  ch.onmessage = (m) => events.push(m.data);
  return {
    events,
    of: (ev) => events.filter((e) => e.ev === ev),
    /** The open report of a client socket (matched by its port). */
    openOf: (sock) => events.find((e) => e.ev === 'open' && e.remote.port === sock.localPort),
    close: () => ch.close(),
  };
}

function threadCount() {
  return fs.readdirSync('/proc/self/task').length;
}


// FNV-1a over the address string, as native/core/reactor/acceptor.cc's sourceAddrHash.
function fnv1a(str) {
  let h = 2166136261;
  for (const ch of Buffer.from(str)) h = Math.imul(h ^ ch, 16777619) >>> 0;
  return h >>> 0;
}

module.exports = { fixture, reports, threadCount, fdCount, fnv1a };
