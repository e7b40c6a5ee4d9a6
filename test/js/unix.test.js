'use strict';
// Issue 10: Unix domain stream sockets. unix:///path listeners and dials, the
// stale-file rule (a dead process's file replaced, a live listener EADDRINUSE,
// a non-socket file never touched), unixMode, the file removed on stop(),
// Linux abstract names, conn.peerCredentials.
// io_uring too: RINGNET_BACKEND=io_uring node --test test/js/unix.test.js
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { ringnet, readBytes, echo, until, sha256 } = require('./helpers');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringnet-unix-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = () => path.join(dir, `s${process.pid}-${n++}.sock`);

function connectPath(p) {
  return new Promise((resolve, reject) => {
    const s = net.connect(p);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function roundTrip(p, size = 256 * 1024) {
  const s = await connectPath(p);
  const data = crypto.randomBytes(size);
  const back = readBytes(s, size);
  s.write(data);
  assert.strictEqual(sha256(await back), sha256(data));
  s.destroy();
}

test('unix:///path: listen, echo, the file removed on stop(); peerCredentials of the peer', async () => {
  const p = sockPath();
  let creds;
  let remote;
  const engine = await ringnet.serve(
    {
      onOpen(c) {
        creds = c.peerCredentials;
        remote = c.remoteAddr;
      },
      onTraffic: echo.onTraffic,
    },
    `unix://${p}`,
  );
  try {
    assert.strictEqual(engine.addr, `unix://${p}`);
    assert.strictEqual(engine.address.family, 'unix');
    assert.ok(fs.lstatSync(p).isSocket());
    await roundTrip(p);
    assert.deepStrictEqual(creds, { pid: process.pid, uid: process.getuid(), gid: process.getgid() });
    assert.strictEqual(remote.family, 'unix');
  } finally {
    await engine.stop();
  }
  assert.strictEqual(fs.existsSync(p), false, 'stop() removes the socket file');
});

test('createClient dials unix:///path; the dialed end sees the server process too', async () => {
  const p = sockPath();
  let serverSide;
  const server = await ringnet.serve({ onOpen: (c) => void (serverSide = c.peerCredentials), onTraffic: echo.onTraffic }, `unix://${p}`);
  const got = [];
  const client = await ringnet.createClient({ onTraffic: (c) => void got.push(Buffer.from(c.next())) });
  try {
    const c = await client.dial(`unix://${p}`, { timeout: 2000 });
    assert.strictEqual(c.dialed, true);
    assert.strictEqual(c.peerCredentials.pid, process.pid);
    c.write('over a unix socket');
    await until(() => Buffer.concat(got).length >= 18, 5000, 'echo');
    assert.strictEqual(Buffer.concat(got).toString(), 'over a unix socket');
    assert.strictEqual(serverSide.uid, process.getuid());
    // Nothing there: refused; no such path: ENOENT.
    await assert.rejects(client.dial(`unix://${path.join(dir, 'missing.sock')}`), (e) => e.code === 'ENOENT');
    await assert.rejects(client.dial(`unix://${'/x'.repeat(80)}`), (e) => e.code === 'ERR_RINGNET_INVALID_ADDR');
  } finally {
    await client.stop();
    await server.stop();
  }
});

test('a stale socket file (its process died) is replaced; a live one is EADDRINUSE; a plain file is never touched', async () => {
  const p = sockPath();
  // A listener in a child killed with SIGKILL leaves its file behind.
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(p)}, () => process.stdout.write('up\\n'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout.once('data', r));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(fs.lstatSync(p).isSocket(), 'the dead listener left its file');
  const engine = await ringnet.serve(echo, `unix://${p}`);
  try {
    await roundTrip(p, 1024);
    // A second engine on the same live path: EADDRINUSE, and the first keeps serving.
    await assert.rejects(ringnet.serve(echo, `unix://${p}`), (e) => {
      assert.strictEqual(e.code, 'EADDRINUSE');
      assert.match(e.message, new RegExp(`unix://${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      return true;
    });
    await roundTrip(p, 1024);
  } finally {
    await engine.stop();
  }
  const plain = path.join(dir, `plain-${process.pid}.sock`);
  fs.writeFileSync(plain, 'not a socket');
  await assert.rejects(ringnet.serve(echo, `unix://${plain}`), (e) => e.code === 'EADDRINUSE');
  assert.strictEqual(fs.readFileSync(plain, 'utf8'), 'not a socket');
});

test('unixMode sets the file mode; a file replaced after bind is not removed by stop()', async () => {
  const p = sockPath();
  const engine = await ringnet.serve(echo, `unix://${p}`, { unixMode: 0o600 });
  try {
    assert.strictEqual(fs.statSync(p).mode & 0o777, 0o600);
    await roundTrip(p, 1024);
    fs.unlinkSync(p);
    fs.writeFileSync(p, 'someone else');
  } finally {
    await engine.stop();
  }
  assert.strictEqual(fs.readFileSync(p, 'utf8'), 'someone else');
  await assert.rejects(ringnet.serve(echo, 'unix:///tmp/x.sock', { unixMode: 0o10000 }), (e) => e.code === 'ERR_RINGNET_INVALID_OPTION');
});

test('unix://@name: a Linux abstract socket, no file; dial it', { skip: process.platform !== 'linux' }, async () => {
  const name = `ringnet-test-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const engine = await ringnet.serve(echo, `unix://@${name}`);
  const got = [];
  const client = await ringnet.createClient({ onTraffic: (c) => void got.push(Buffer.from(c.next())) });
  try {
    assert.strictEqual(engine.addr, `unix://@${name}`);
    // (node:net's abstract paths are padded to sun_path's size, a different name
    // from the exact-length one Go, socat and ringnet use: dial with ringnet.)
    const c = await client.dial(`unix://@${name}`);
    c.write('abstract');
    await until(() => Buffer.concat(got).length >= 8, 5000, 'echo');
    assert.strictEqual(Buffer.concat(got).toString(), 'abstract');
    await assert.rejects(ringnet.serve(echo, `unix://@${name}`), (e) => e.code === 'EADDRINUSE');
  } finally {
    await client.stop();
    await engine.stop();
  }
});
