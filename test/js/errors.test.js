'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const { ringnet, echo } = require('./helpers');

test('EADDRINUSE: serve rejects with the errno code and the address', async () => {
  const a = await ringnet.serve(echo, 'tcp://127.0.0.1:0', { reuseAddr: false });
  try {
    const addr = `tcp://127.0.0.1:${a.address.port}`;
    await assert.rejects(ringnet.serve(echo, addr), (e) => {
      assert.strictEqual(e.code, 'EADDRINUSE');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${a.address.port}`));
      assert.strictEqual(e.syscall, 'bind');
      return true;
    });
  } finally {
    await a.stop();
  }
});

test('EADDRINUSE against a node:net server too, and no fd or listener is left behind', async () => {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = srv.address().port;
  try {
    await assert.rejects(ringnet.serve(echo, ['tcp://127.0.0.1:0', `tcp://127.0.0.1:${port}`]), { code: 'EADDRINUSE' });
  } finally {
    srv.close();
  }
});

test('bad addresses reject with ERR_RINGNET_INVALID_ADDR', async () => {
  for (const bad of ['nonsense', 'tcp://127.0.0.1', 'tcp://127.0.0.1:70000', 'sctp://127.0.0.1:1', 'udp://127.0.0.1', 'tcp://::1:80', 'tcp://127.0.0.1:-1', 42, '', 'tcp4://[::1]:0', 'tcp6://127.0.0.1:0']) {
    await assert.rejects(ringnet.serve(echo, bad), { code: 'ERR_RINGNET_INVALID_ADDR' }, `address ${bad}`);
  }
});

test('IPv6 loopback works', async () => {
  const e = await ringnet.serve(echo, 'tcp://[::1]:0');
  try {
    assert.strictEqual(e.address.family, 'IPv6');
    assert.match(e.addr, /^tcp:\/\/\[::1\]:\d+$/);
  } finally {
    await e.stop();
  }
});

test('bad options and handlers reject with clear codes', async () => {
  await assert.rejects(ringnet.serve(echo, 'tcp://127.0.0.1:0', { readBufferCap: -1 }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve(echo, 'tcp://127.0.0.1:0', { tcpNoDelay: 'yes' }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve(echo, 'tcp://127.0.0.1:0', { loadBalancing: 'random' }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve(null, 'tcp://127.0.0.1:0'), { code: 'ERR_RINGNET_INVALID_HANDLER' });
});
