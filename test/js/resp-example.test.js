'use strict';
// examples/resp (compiled to dist/examples/resp): the RESP2 parser split at
// every byte, pipelined commands over a socket, Redis-like replies and errors,
// expiry, and redis-cli driving the server.
const test = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { ringnet, LOOPBACK } = require('./helpers');

const EX = path.join(__dirname, '..', '..', 'dist', 'examples', 'resp');
const { createRespHandler, RESP_SERVE_OPTIONS } = require(path.join(EX, 'handler.js'));
const { parseCommand, RespCommand, NEED_MORE, PROTOCOL_ERROR } = require(path.join(EX, 'parser.js'));
const { Store } = require(path.join(EX, 'store.js'));

async function withServer(fn) {
  const engine = await ringnet.serve(createRespHandler(new Store()), LOOPBACK, RESP_SERVE_OPTIONS);
  try {
    await fn(engine.address.port);
  } finally {
    await engine.stop();
  }
}

function bulk(...args) {
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
}

// A client that sends raw bytes and reads until `want` bytes of replies (or close).
function dial(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    let ended = false;
    let wake = null;
    s.setNoDelay(true);
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (wake) wake();
    });
    s.on('close', () => {
      ended = true;
      if (wake) wake();
    });
    s.on('error', () => {});
    s.once('connect', () =>
      resolve({
        sock: s,
        async read(n, timeoutMs = 5000) {
          const deadline = Date.now() + timeoutMs;
          while (buf.length < n) {
            if (ended) throw new Error(`closed with ${JSON.stringify(buf)} (wanted ${n} bytes)`);
            if (Date.now() > deadline) throw new Error(`timed out with ${JSON.stringify(buf)} (wanted ${n} bytes)`);
            await new Promise((r) => {
              wake = r;
              setTimeout(r, 50);
            });
            wake = null;
          }
          const out = buf.slice(0, n);
          buf = buf.slice(n);
          return out;
        },
        async closed(timeoutMs = 5000) {
          const deadline = Date.now() + timeoutMs;
          while (!ended) {
            if (Date.now() > deadline) throw new Error('still open');
            await new Promise((r) => {
              wake = r;
              setTimeout(r, 50);
            });
            wake = null;
          }
          return buf;
        },
      }),
    );
    s.once('error', reject);
  });
}

function args(cmd) {
  return Array.from({ length: cmd.argc }, (_, i) => cmd.str(i));
}

const STREAM = [
  bulk('SET', 'key', 'va\r\nlue'),
  'PING\r\n',
  bulk('GET', 'key'),
  '  ECHO   "quoted \\x41\\n"  \'it\\\'s\'\r\n',
  '*0\r\n',
  '\r\n',
  bulk('MSET', 'a', '', 'b', 'x'.repeat(300)),
  'get a\n',
];
const WANT = [['SET', 'key', 'va\r\nlue'], ['PING'], ['GET', 'key'], ['ECHO', 'quoted A\n', "it's"], [], [], ['MSET', 'a', '', 'b', 'x'.repeat(300)], ['get', 'a']];

test('resp parser: a pipelined stream split at every byte gives the same commands', () => {
  const full = Buffer.from(STREAM.join(''), 'latin1');
  const cmd = new RespCommand();
  for (let cut = 0; cut <= full.length; cut++) {
    const got = [];
    // what arrived first: full.subarray(0, cut); parse as far as possible, then the rest arrives
    let off = 0;
    let view = Buffer.from(full.subarray(0, cut));
    for (let round = 0; round < 2; round++) {
      for (;;) {
        const r = parseCommand(view, off, view.length, cmd);
        assert.notStrictEqual(r, PROTOCOL_ERROR, `cut ${cut}: ${cmd.error}`);
        if (r === NEED_MORE) break;
        got.push(args(cmd));
        off = r;
      }
      view = full; // everything has arrived now; offsets stay valid (same bytes)
    }
    assert.strictEqual(off, full.length, `cut ${cut}`);
    assert.deepStrictEqual(got, WANT, `cut ${cut}`);
  }
});

test('resp parser: protocol errors worded as Redis words them', () => {
  const cmd = new RespCommand();
  for (const [raw, msg] of [
    ['*2\r\n$3\r\nGET\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
    ['*x\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$3\r\nGETX\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$99999999999\r\n', 'Protocol error: invalid bulk length'],
    ['ECHO "abc\r\n', 'Protocol error: unbalanced quotes in request'],
    ['ECHO "abc"x\r\n', 'Protocol error: unbalanced quotes in request'],
    ["ECHO 'abc\r\n", 'Protocol error: unbalanced quotes in request'],
    ["ECHO 'abc'x\r\n", 'Protocol error: unbalanced quotes in request'],
  ]) {
    const b = Buffer.from(raw, 'latin1');
    assert.strictEqual(parseCommand(b, 0, b.length, cmd), PROTOCOL_ERROR, raw);
    assert.strictEqual(cmd.error, msg, raw);
  }
  const big = Buffer.alloc(70 * 1024, 0x61);
  assert.strictEqual(parseCommand(big, 0, big.length, cmd), PROTOCOL_ERROR);
  assert.strictEqual(cmd.error, 'Protocol error: too big inline request');
});

test('resp: pipelined commands over a socket, split at every byte boundary, get the same replies', async () => {
  await withServer(async (port) => {
    const c = await dial(port);
    const raw = Buffer.from(STREAM.join(''), 'latin1');
    // ECHO with two args is a wrong-arity error, as in Redis
    const expected = '+OK\r\n+PONG\r\n$7\r\nva\r\nlue\r\n' + "-ERR wrong number of arguments for 'echo' command\r\n" + '+OK\r\n$0\r\n\r\n';
    c.sock.write(raw);
    assert.strictEqual(await c.read(expected.length), expected);
    for (let cut = 1; cut < raw.length; cut += 1) {
      c.sock.write(raw.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 1));
      c.sock.write(raw.subarray(cut));
      assert.strictEqual(await c.read(expected.length), expected, `cut at ${cut}`);
    }
    c.sock.destroy();
  });
});

test('resp: SET options, GET, DEL, EXISTS, INCR, MGET, EXPIRE, TTL and their errors', async () => {
  await withServer(async (port) => {
    const c = await dial(port);
    const cases = [
      [bulk('SET', 'k', 'v', 'NX'), '+OK\r\n'],
      [bulk('SET', 'k', 'w', 'NX'), '$-1\r\n'],
      [bulk('SET', 'k', 'w', 'XX', 'GET'), '$1\r\nv\r\n'],
      [bulk('SET', 'nope', 'w', 'XX'), '$-1\r\n'],
      [bulk('GET', 'k'), '$1\r\nw\r\n'],
      [bulk('SET', 'k', 'v', 'EX', '0'), "-ERR invalid expire time in 'set' command\r\n"],
      [bulk('SET', 'k', 'v', 'EX', 'ten'), '-ERR value is not an integer or out of range\r\n'],
      [bulk('SET', 'k', 'v', 'NX', 'XX'), '-ERR syntax error\r\n'],
      [bulk('SET', 'e', 'v', 'PX', '100000'), '+OK\r\n'],
      [bulk('TTL', 'e'), ':100\r\n'],
      [bulk('TTL', 'k'), ':-1\r\n'],
      [bulk('TTL', 'missing'), ':-2\r\n'],
      [bulk('EXPIRE', 'k', '50'), ':1\r\n'],
      [bulk('EXPIRE', 'k', '60', 'NX'), ':0\r\n'],
      [bulk('TTL', 'k'), ':50\r\n'],
      [bulk('EXPIRE', 'missing', '5'), ':0\r\n'],
      [bulk('EXISTS', 'k', 'k', 'missing'), ':2\r\n'],
      [bulk('INCR', 'n'), ':1\r\n'],
      [bulk('INCR', 'n'), ':2\r\n'],
      [bulk('INCR', 'k'), '-ERR value is not an integer or out of range\r\n'],
      [bulk('SET', 'big', '9223372036854775806'), '+OK\r\n'],
      [bulk('INCR', 'big'), ':9223372036854775807\r\n'],
      [bulk('INCR', 'big'), '-ERR increment or decrement would overflow\r\n'],
      [bulk('MSET', 'a', '1', 'b', '2'), '+OK\r\n'],
      [bulk('MSET', 'a', '1', 'b'), "-ERR wrong number of arguments for 'mset' command\r\n"],
      [bulk('MGET', 'a', 'missing', 'b'), '*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n'],
      [bulk('DEL', 'a', 'b', 'missing'), ':2\r\n'],
      [bulk('GET'), "-ERR wrong number of arguments for 'get' command\r\n"],
      [bulk('FOO', 'x'), "-ERR unknown command 'FOO', with args beginning with: 'x' \r\n"],
      [bulk('PING', 'hi'), '$2\r\nhi\r\n'],
      [bulk('ECHO', 'bin\x00\xff'), '$5\r\nbin\x00\xff\r\n'],
      [bulk('COMMAND', 'COUNT'), ':20\r\n'],
      [bulk('CONFIG', 'GET', 'save'), '*2\r\n$4\r\nsave\r\n$0\r\n\r\n'],
      [bulk('SET', 'bin\xfe', 'v\x00\x80'), '+OK\r\n'],
      [bulk('GET', 'bin\xfe'), '$3\r\nv\x00\x80\r\n'],
    ];
    for (const [req, want] of cases) {
      c.sock.write(Buffer.from(req, 'latin1'));
      assert.strictEqual(await c.read(want.length), want, JSON.stringify(req));
    }
    // PX expiry: gone after it passes (lazily, and the ticker sweeps)
    c.sock.write(bulk('SET', 'short', 'v', 'PX', '50'));
    await c.read(5);
    await new Promise((r) => setTimeout(r, 120));
    c.sock.write(bulk('GET', 'short') + bulk('EXISTS', 'short'));
    assert.strictEqual(await c.read(9), '$-1\r\n:0\r\n');
    // QUIT: +OK, then closed
    c.sock.write(bulk('QUIT'));
    assert.strictEqual(await c.read(5), '+OK\r\n');
    await c.closed();
  });
});

test('resp: a protocol error gets -ERR Protocol error and the connection closes', async () => {
  await withServer(async (port) => {
    const c = await dial(port);
    c.sock.write('PING\r\n*1\r\n:3\r\nPING\r\n');
    const rest = await c.closed();
    assert.strictEqual(rest, "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n");
  });
});

test('resp: a long pipeline (20k commands in one write) is answered in order', async () => {
  await withServer(async (port) => {
    const c = await dial(port);
    let req = '';
    let want = '';
    for (let i = 0; i < 20000; i++) {
      req += bulk('INCR', 'ctr');
      want += `:${i + 1}\r\n`;
    }
    c.sock.write(req);
    assert.strictEqual(await c.read(want.length, 20000), want);
    c.sock.destroy();
  });
});

const haveCli = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;

// redis-cli with stdin ignored (otherwise it waits on stdin) and a kill timer.
function cli(port, ...argv) {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', ['-p', String(port), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`redis-cli ${argv.join(' ')} timed out`));
    }, 10000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
  });
}

test('resp: redis-cli drives the server', { skip: !haveCli && 'redis-cli missing (apt-get install redis-tools)' }, async () => {
  await withServer(async (port) => {
    assert.strictEqual(await cli(port, 'ping'), 'PONG');
    assert.strictEqual(await cli(port, 'set', 'greeting', 'hello world'), 'OK');
    assert.strictEqual(await cli(port, 'get', 'greeting'), 'hello world');
    assert.strictEqual(await cli(port, 'incr', 'visits'), '1');
    assert.strictEqual(await cli(port, 'mset', 'x', '1', 'y', '2'), 'OK');
    assert.strictEqual(await cli(port, 'mget', 'x', 'y', 'z'), '1\n2');
    assert.strictEqual(await cli(port, 'set', 'tmp', 'v', 'ex', '30'), 'OK');
    assert.strictEqual(await cli(port, 'ttl', 'tmp'), '30');
    assert.strictEqual(await cli(port, 'del', 'x', 'y', 'z'), '2');
    assert.strictEqual(await cli(port, 'exists', 'x', 'greeting'), '1');
    assert.match(await cli(port, 'nosuchcommand'), /ERR unknown command 'nosuchcommand'/);
    assert.strictEqual(await cli(port, 'command', 'count'), '20');
    const n = await cli(port, '--no-raw', 'dbsize');
    assert.match(n, /\(integer\) 3/);
  });
});

// The example's own entry point (what `npm run example:resp` runs), spawned.
async function spawnExample(argv) {
  const p = spawn(process.execPath, [path.join(EX, 'main.js'), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 15000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${out}`));
    });
  });
  return { p, port };
}

test('resp: --loops 2 (store behind a pool of one worker): keys written on one connection are seen on the others', { skip: !haveCli && 'redis-cli missing' }, async () => {
  const { p, port } = await spawnExample(['--port', '0', '--loops', '2']);
  try {
    // every redis-cli is a new connection; round-robin puts them on both loops
    assert.strictEqual(await cli(port, 'set', 'shared', '1'), 'OK');
    for (let i = 2; i <= 5; i++) assert.strictEqual(await cli(port, 'incr', 'shared'), String(i));
    assert.strictEqual(await cli(port, 'get', 'shared'), '5');
    const c = await dial(port);
    let req = '';
    let want = '';
    for (let i = 0; i < 2000; i++) {
      req += bulk('INCR', 'ordered');
      want += `:${i + 1}\r\n`;
    }
    c.sock.write(req);
    assert.strictEqual(await c.read(want.length, 20000), want);
    c.sock.write('*1\r\n:1\r\n');
    assert.strictEqual(await c.closed(), "-ERR Protocol error: expected '$', got ':'\r\n");
  } finally {
    p.kill('SIGKILL');
  }
});
