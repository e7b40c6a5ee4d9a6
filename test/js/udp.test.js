'use strict';
// udp:// (issue 10): echo against node:dgram and socat, IPv6, a 10 000-datagram
// batch checked for loss, multicast on loopback, truncation, sendTo, options and
// errors, loops: 2 with SO_REUSEPORT, and io_uring. Run under
// RINGNET_BACKEND=io_uring too (the whole file then runs on the ring).
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const ringnet = require('../../dist');

const echo = { onTraffic(d) { d.write(d.next()); } };

function client(type = 'udp4', recvBufferSize) {
  const s = dgram.createSocket({ type, ...(recvBufferSize ? { recvBufferSize } : {}) });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, type === 'udp6' ? '::1' : '127.0.0.1', () => resolve(s));
  });
}

/** Wait for n messages on s (resolves with [msg, rinfo] pairs), or fail after ms. */
function messages(s, n, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => { s.off('message', on); reject(new Error(`got ${got.length} of ${n} datagrams in ${ms} ms`)); }, ms);
    const on = (m, r) => {
      got.push([m, r]);
      if (got.length >= n) { clearTimeout(timer); s.off('message', on); resolve(got); }
    };
    s.on('message', on);
  });
}

test('echo: node:dgram client, remoteAddr, engine.addrs, a TCP listener beside it', async () => {
  let seen;
  const e = await ringnet.serve({
    onTraffic(c) { c.write(c.next()); }, // the TCP side
    onDatagram(d) { seen = { ...d.remoteAddr, len: d.length, truncated: d.truncated, local: d.localAddr.port }; d.write(d.next()); },
  }, ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0']);
  const c = await client();
  try {
    assert.match(e.addrs[0], /^udp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(e.addrs[1], /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.strictEqual(e.udpSockets.length, 1);
    const p = messages(c, 2);
    c.send('hello', e.address.port, '127.0.0.1');
    c.send(Buffer.alloc(0), e.address.port, '127.0.0.1'); // an empty datagram is a datagram
    const got = await p;
    assert.deepStrictEqual(got.map(([m]) => m.toString()).sort(), ['', 'hello']);
    assert.strictEqual(got[0][1].port, e.address.port);
    assert.deepStrictEqual({ family: seen.family, address: seen.address, port: seen.port }, { family: 'IPv4', address: '127.0.0.1', port: c.address().port });
    assert.strictEqual(seen.truncated, false);
    assert.strictEqual(seen.local, e.address.port);
    const st = e.udpSockets[0].stats();
    assert.strictEqual(st.datagramsIn, 2);
    assert.strictEqual(st.datagramsOut, 2);
    // TCP on the same engine (same loop) still serves.
    const net = require('node:net');
    const s = net.connect(e.udpSockets.length && Number(e.addrs[1].split(':').pop()), '127.0.0.1');
    const back = await new Promise((res, rej) => { s.once('data', res); s.once('error', rej); s.write('tcp'); });
    assert.strictEqual(back.toString(), 'tcp');
    s.destroy();
  } finally {
    c.close();
    await e.stop();
  }
});

test('echo: socat - UDP:127.0.0.1:PORT', async (t) => {
  const e = await ringnet.serve(echo, 'udp://127.0.0.1:0');
  try {
    const p = spawn('socat', ['-t', '1', '-', `UDP:127.0.0.1:${e.address.port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    p.stdout.on('data', (d) => out.push(d));
    const exited = new Promise((res) => p.once('exit', res));
    const spawned = await new Promise((res) => { p.once('spawn', () => res(true)); p.once('error', () => res(false)); });
    if (!spawned) return t.skip('socat is not installed');
    const kill = setTimeout(() => p.kill('SIGKILL'), 8000);
    p.stdin.end('ping from socat\n');
    await exited;
    clearTimeout(kill);
    assert.strictEqual(Buffer.concat(out).toString(), 'ping from socat\n');
  } finally {
    await e.stop();
  }
});

test('IPv6 ::1 echo', async () => {
  const e = await ringnet.serve(echo, 'udp6://[::1]:0');
  const c = await client('udp6');
  try {
    assert.match(e.addr, /^udp:\/\/\[::1\]:\d+$/);
    assert.strictEqual(e.address.family, 'IPv6');
    const p = messages(c, 1);
    c.send('six', e.address.port, '::1');
    const [[m, r]] = await p;
    assert.strictEqual(m.toString(), 'six');
    assert.strictEqual(r.address, '::1');
  } finally {
    c.close();
    await e.stop();
  }
});

// 10 000 datagrams from node:dgram, in bursts of 200 (each burst is far below
// SO_RCVBUF, and the loop runs between bursts: it shares this thread), checked by
// count and checksum on the server and on the echoes. On loopback nothing is lost
// when the receive buffer holds a burst: the kernel drops a datagram only when it
// does not fit the socket's buffer. So the test demands 0 loss.
async function batch(options = {}) {
  const N = 10000;
  let count = 0;
  const h = crypto.createHash('sha256');
  const e = await ringnet.serve({
    onDatagram(d) {
      count++;
      const b = d.next();
      h.update(b);
      d.write(b);
    },
  }, 'udp://127.0.0.1:0', { udp: { recvBufferSize: 4 << 20 }, ...options });
  // The echoes of a burst land in the client's buffer while this thread runs the
  // server: 200 small datagrams cost ~200 KiB of it (truesize), about the default.
  const c = await client('udp4', 4 << 20);
  const back = crypto.createHash('sha256');
  let echoed = 0;
  c.on('message', (m) => { echoed++; back.update(m); });
  try {
    const sent = crypto.createHash('sha256');
    const t0 = Date.now();
    for (let i = 0; i < N; ) {
      for (let k = 0; k < 200 && i < N; k++, i++) {
        const m = Buffer.alloc(64, i & 0xff);
        m.writeUInt32BE(i, 0);
        sent.update(m);
        c.send(m, e.address.port, '127.0.0.1');
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    while ((count < N || echoed < N) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 5));
    const digest = sent.digest('hex');
    assert.strictEqual(count, N, `server got ${count} of ${N}`);
    assert.strictEqual(h.digest('hex'), digest, 'server checksum');
    assert.strictEqual(echoed, N, `client got ${echoed} of ${N} echoes`);
    // Echoes arrive in order on loopback from one socket, so the digests match.
    assert.strictEqual(back.digest('hex'), digest, 'echo checksum');
    const st = e.udpSockets[0].stats();
    assert.ok(st.recvCalls < N, `batched: ${st.recvCalls} recvmmsg calls for ${N} datagrams`);
    return { e, st };
  } finally {
    c.close();
    await e.stop();
  }
}

test('a batch of 10 000 datagrams: no loss, checksummed both ways', async () => {
  await batch();
});

test('multicast on loopback: join 239.x on 127.0.0.1, receive, leave', async () => {
  const group = '239.255.77.' + (1 + (process.pid % 250));
  const got = [];
  const e = await ringnet.serve({ onDatagram(d) { got.push(d.next().toString()); } }, 'udp://0.0.0.0:0', {
    udp: { reuseAddr: true, membership: [{ group, iface: '127.0.0.1' }], multicastLoopback: true, multicastTTL: 1 },
  });
  const c = await client();
  try {
    c.setMulticastInterface('127.0.0.1');
    c.setMulticastLoopback(true);
    const until = async (n) => {
      const t0 = Date.now();
      while (got.length < n && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
    };
    c.send('to the group', e.address.port, group);
    await until(1);
    assert.deepStrictEqual(got, ['to the group']);
    // Our own socket can send to the group too (IP_MULTICAST_IF on loopback).
    const u = e.udpSockets[0];
    u.setMulticastInterface('127.0.0.1');
    u.sendTo({ address: group, port: e.address.port }, 'from ringnet');
    await until(2);
    assert.deepStrictEqual(got, ['to the group', 'from ringnet']);
    u.dropMembership(group, '127.0.0.1');
    c.send('after leaving', e.address.port, group);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepStrictEqual(got, ['to the group', 'from ringnet']);
    assert.throws(() => u.addMembership('not-a-group'), { code: 'ERR_RINGNET_INVALID_ADDR' });
    assert.throws(() => u.addMembership('127.0.0.1'), { code: 'EINVAL' }); // not a multicast address
  } finally {
    c.close();
    await e.stop();
  }
});

test('truncation: a datagram over maxDatagramSize is flagged, counted, cut — never silently', async () => {
  const seen = [];
  const e = await ringnet.serve({ onDatagram(d) { seen.push({ len: d.length, truncated: d.truncated, head: d.peek(3).toString() }); } }, 'udp://127.0.0.1:0', { udp: { maxDatagramSize: 100 } });
  const c = await client();
  try {
    c.send(Buffer.alloc(300, 'x'), e.address.port, '127.0.0.1');
    c.send(Buffer.alloc(100, 'y'), e.address.port, '127.0.0.1');
    const t0 = Date.now();
    while (seen.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
    assert.deepStrictEqual(seen, [{ len: 100, truncated: true, head: 'xxx' }, { len: 100, truncated: false, head: 'yyy' }]);
    assert.strictEqual(e.udpSockets[0].stats().truncated, 1);
  } finally {
    c.close();
    await e.stop();
  }
});

test('sendTo: engine.sendTo and socket.send reach a node:dgram socket; bad targets throw', async () => {
  const e = await ringnet.serve(echo, ['udp://127.0.0.1:0', 'udp://[::1]:0']);
  const c4 = await client();
  const c6 = await client('udp6');
  try {
    const p4 = messages(c4, 3);
    const p6 = messages(c6, 1);
    assert.strictEqual(e.sendTo(`udp://127.0.0.1:${c4.address().port}`, 'one'), true);
    assert.strictEqual(e.sendTo({ address: '127.0.0.1', port: c4.address().port }, Buffer.from('two')), true);
    e.udpSockets[0].send(new Uint8Array([51]), c4.address().port, 'localhost');
    e.sendTo(`[::1]:${c6.address().port}`, 'six');
    const got = await p4;
    assert.deepStrictEqual(got.map(([m]) => m.toString()), ['one', 'two', '3']);
    assert.strictEqual(got[0][1].port, e.address.port);
    assert.strictEqual((await p6)[0][0].toString(), 'six');
    assert.throws(() => e.sendTo('udp://example.com:9', 'x'), { code: 'ERR_RINGNET_INVALID_ADDR' });
    assert.throws(() => e.sendTo('udp://127.0.0.1', 'x'), { code: 'ERR_RINGNET_INVALID_ADDR' });
    assert.throws(() => e.udpSockets[0].sendTo('[::1]:9', 'x'), { code: 'ERR_RINGNET_INVALID_ADDR' }); // IPv4 socket
    assert.throws(() => e.sendTo('udp://127.0.0.1:9', Buffer.alloc(70000)), { code: 'EMSGSIZE' });
  } finally {
    c4.close();
    c6.close();
    await e.stop();
  }
  const t = await ringnet.serve(echo, 'tcp://127.0.0.1:0');
  try {
    assert.throws(() => t.sendTo('udp://127.0.0.1:9', 'x'), { code: 'ERR_RINGNET_NO_UDP' });
  } finally {
    await t.stop();
  }
});

test('a send the kernel refuses is reported on the socket (EACCES: broadcast without the option)', async () => {
  const e = await ringnet.serve(echo, 'udp://127.0.0.1:0');
  try {
    const u = e.udpSockets[0];
    const err = new Promise((res) => u.once('error', res));
    u.sendTo('255.255.255.255:9', 'x');
    const got = await Promise.race([err, new Promise((r) => setTimeout(() => r(null), 2000))]);
    assert.ok(got, 'an error event');
    assert.strictEqual(got.code, 'EACCES');
    assert.strictEqual(u.stats().sendErrors, 1);
    u.setBroadcast(true);
    u.setTTL(64);
    u.setMulticastTTL(2);
    assert.ok(u.getRecvBufferSize() > 0);
  } finally {
    await e.stop();
  }
});

test('options and errors: bad udp options, EADDRINUSE, dial udp://, stale Datagram, a throwing handler', async () => {
  await assert.rejects(ringnet.serve(echo, 'udp://127.0.0.1:0', { udp: { maxDatagramSize: 0 } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve(echo, 'udp://127.0.0.1:0', { udp: { nope: 1 } }), { code: 'ERR_RINGNET_INVALID_OPTION' });
  await assert.rejects(ringnet.serve(echo, 'udp4://[::1]:0'), { code: 'ERR_RINGNET_INVALID_ADDR' });
  const busy = await client();
  try {
    await assert.rejects(ringnet.serve(echo, `udp://127.0.0.1:${busy.address().port}`), { code: 'EADDRINUSE' });
  } finally {
    busy.close();
  }
  let kept;
  let calls = 0;
  const e = await ringnet.serve({
    onDatagram(d) {
      calls++;
      kept = d;
      if (d.peek().toString() === 'throw') throw new Error('handler failed');
      d.write('ok');
    },
  }, 'udp://127.0.0.1:0');
  const c = await client();
  try {
    await assert.rejects(e.dial(e.addr), { code: 'ERR_RINGNET_INVALID_ADDR' });
    const errors = [];
    e.udpSockets[0].on('error', (x) => errors.push(x.message));
    const p = messages(c, 1);
    c.send('throw', e.address.port, '127.0.0.1');
    c.send('fine', e.address.port, '127.0.0.1');
    assert.strictEqual((await p)[0][0].toString(), 'ok');
    assert.strictEqual(calls, 2);
    assert.deepStrictEqual(errors, ['handler failed']);
    assert.throws(() => kept.next(), { code: 'ERR_RINGNET_STALE_DATAGRAM' });
    assert.throws(() => kept.write('x'), { code: 'ERR_RINGNET_STALE_DATAGRAM' });
  } finally {
    c.close();
    await e.stop();
  }
  assert.strictEqual(e.udpSockets[0].isClosed, true);
  assert.throws(() => e.udpSockets[0].sendTo('127.0.0.1:9', 'x'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
});

test('loops: 2 — each loop has its own SO_REUSEPORT socket and the kernel spreads senders', async () => {
  const e = await ringnet.serve(path.join(__dirname, 'fixtures', 'udp-echo-thread.js'), ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0'], { loops: 2 });
  const socks = [];
  try {
    assert.match(e.addrs[0], /^udp:\/\//);
    assert.match(e.addrs[1], /^tcp:\/\//);
    for (let i = 0; i < 32; i++) socks.push(await client());
    const threads = new Set();
    await Promise.all(socks.map(async (s, i) => {
      const p = messages(s, 1);
      s.send(`n${i}`, e.address.port, '127.0.0.1');
      const [[m]] = await p;
      const [tid, body] = m.toString().split(':');
      assert.strictEqual(body, `n${i}`);
      threads.add(tid);
    }));
    // 32 source ports hashed over 2 sockets: all on one has probability 2^-31.
    assert.strictEqual(threads.size, 2, `threads seen: ${[...threads]}`);
  } finally {
    for (const s of socks) s.close();
    await e.stop();
  }
});

test('io_uring backend: echo and a 10 000-datagram batch', async (t) => {
  let probe;
  try {
    probe = await ringnet.serve(echo, 'udp://127.0.0.1:0', { backend: 'io_uring' });
  } catch (err) {
    if (err.code === 'ERR_RINGNET_BACKEND_UNAVAILABLE') return t.skip(`io_uring unavailable: ${err.message}`);
    throw err;
  }
  assert.strictEqual(probe.backend, 'io_uring');
  await probe.stop();
  const { st } = await batch({ backend: 'io_uring' });
  assert.strictEqual(st.datagramsOut, 10000);
});

test('a burst longer than one turn (recvBatch 4 × 8 batches) is read over several turns, none left behind', async () => {
  let count = 0;
  const e = await ringnet.serve({ onDatagram() { count++; } }, 'udp://127.0.0.1:0', { udp: { recvBatch: 4, recvBufferSize: 4 << 20 } });
  const c = await client();
  try {
    // Sent while this thread (the server's too) is busy: all 1 000 queue in the kernel.
    const m = Buffer.alloc(32, 1);
    await new Promise((res) => {
      let left = 1000;
      for (let i = 0; i < 1000; i++) c.send(m, e.address.port, '127.0.0.1', () => --left === 0 && res());
    });
    const t0 = Date.now();
    while (count < 1000 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    assert.strictEqual(count, 1000);
    assert.ok(e.udpSockets[0].stats().recvCalls >= 250, 'read 4 at a time');
  } finally {
    c.close();
    await e.stop();
  }
});

test('close() from inside onDatagram: the rest of the batch is not delivered, the reply goes, the port is free after', async () => {
  let calls = 0;
  const e = await ringnet.serve({
    onDatagram(d) {
      calls++;
      d.write('bye');
      d.socket.close();
    },
  }, 'udp://127.0.0.1:0');
  const port = e.address.port;
  const c = await client();
  try {
    const p = messages(c, 1);
    await new Promise((res) => { let n = 3; for (let i = 0; i < 3; i++) c.send('x', port, '127.0.0.1', () => --n === 0 && res()); });
    assert.strictEqual((await p)[0][0].toString(), 'bye');
    assert.strictEqual(calls, 1);
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(e.udpSockets[0].isClosed, true);
    const again = await client(); // the port can be bound again: the socket is gone
    again.close();
    const s = dgram.createSocket('udp4');
    await new Promise((res, rej) => { s.once('error', rej); s.bind(port, '127.0.0.1', res); });
    s.close();
  } finally {
    c.close();
    await e.stop();
  }
});

test('loops: 2 with only a udp:// target', async () => {
  const e = await ringnet.serve(path.join(__dirname, 'fixtures', 'udp-echo-thread.js'), 'udp://127.0.0.1:0', { loops: 2 });
  const c = await client();
  try {
    assert.match(e.addr, /^udp:\/\/127\.0\.0\.1:\d+$/);
    const p = messages(c, 1);
    c.send('solo', e.address.port, '127.0.0.1');
    assert.match((await p)[0][0].toString(), /^\d+:solo$/);
  } finally {
    c.close();
    await e.stop();
  }
});
