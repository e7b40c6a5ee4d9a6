'use strict';
// Issue 10: slowloris. 1000 connections that trickle a byte a second are closed
// by idleTimeout (700 ms) while a normal client keeps being served: its round
// trips per second during the attack stay at least half of what they were
// before it (in one run, so machine load cancels out), and it is never closed.
const { test } = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const { ringnet, LOOPBACK, connect, until } = require('./helpers');

const ATTACKERS = 1000;
const IDLE = 700;

// Ping-pong 64-byte messages for ms; resolves to round trips done and the slowest one.
function pingPong(sock, ms) {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) {
      reject(new Error('the normal client was closed'));
      return;
    }
    const msg = Buffer.alloc(64, 7);
    const end = performance.now() + ms;
    let trips = 0;
    let worst = 0;
    let got = 0;
    let sent = performance.now();
    const onData = (d) => {
      got += d.length;
      if (got < msg.length) return;
      got -= msg.length;
      trips++;
      const now = performance.now();
      worst = Math.max(worst, now - sent);
      if (now >= end) {
        sock.off('data', onData);
        sock.off('close', onClose);
        resolve({ trips, worst, perSec: (trips * 1000) / ms });
        return;
      }
      sent = now;
      sock.write(msg);
    };
    const onClose = () => reject(new Error('the normal client was closed'));
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.write(msg);
  });
}

test('slowloris: 1000 trickling connections closed by idleTimeout; a normal client served meanwhile', { timeout: 60000 }, async () => {
  const lastByte = new Map(); // conn -> time of its last inbound byte
  const closes = [];
  const engine = await ringnet.serve(
    {
      onTraffic(c) {
        const b = c.next();
        if (c.context === 'normal' || b.length >= 64) {
          c.context = 'normal';
          c.write(b);
        } else {
          lastByte.set(c, performance.now());
        }
      },
      onClose(c, err) {
        if (c.context !== 'normal') closes.push({ at: performance.now(), last: lastByte.get(c), code: err && err.code });
      },
    },
    LOOPBACK,
    { idleTimeout: IDLE, maxConnections: 4096 },
  );
  const attackers = [];
  let trickle;
  try {
    const normal = await connect(engine);
    const base = await pingPong(normal, 800);

    // Connecting 1000 can take longer than IDLE (2.2 s under Wine, where a batch of
    // 100 once took 830 ms): each attacker sends its first byte as soon as its batch
    // of 25 is connected, and the normal client does a round trip after each batch,
    // so neither idles out before the attack.
    for (let i = 0; i < ATTACKERS; i += 25) {
      const batch = [];
      for (let j = 0; j < 25; j++) batch.push(connect(engine));
      for (const s of await Promise.all(batch)) {
        s.on('error', () => {});
        s.write('a');
        attackers.push(s);
      }
      await pingPong(normal, 0);
    }
    // Then one byte a second from each.
    const tick = () => {
      for (const s of attackers) if (!s.destroyed) s.write('a');
    };
    trickle = setInterval(tick, 1000);

    const during = await pingPong(normal, 1500);
    await until(() => closes.length === ATTACKERS, 10000, `${ATTACKERS} idle closes (have ${closes.length})`);

    assert.ok(closes.every((c) => c.code === 'ETIMEDOUT'), 'every attacker closed with ETIMEDOUT');
    let early = 0;
    let late = 0;
    let worstLate = 0;
    for (const c of closes) {
      assert.ok(c.last !== undefined, 'an attacker closed before its first byte');
      const gap = c.at - c.last;
      if (gap < IDLE - 20) early++; // 20: onTraffic runs a little after native's read
      if (gap > IDLE + 10 + 400) late++;
      worstLate = Math.max(worstLate, gap - IDLE);
    }
    assert.strictEqual(early, 0, 'closed before idleTimeout');
    assert.strictEqual(late, 0, `closed far after idleTimeout (worst ${worstLate.toFixed(0)} ms late)`);
    assert.strictEqual(engine.countConnections(), 1, 'only the normal client is left');
    const ratio = during.perSec / base.perSec;
    console.log(
      `# slowloris: normal client ${base.perSec.toFixed(0)} -> ${during.perSec.toFixed(0)} round trips/s (x${ratio.toFixed(2)}), ` +
        `slowest ${during.worst.toFixed(1)} ms; attackers closed ${worstLate.toFixed(0)} ms after their deadline at worst`,
    );
    assert.ok(ratio >= 0.5, `normal client slowed to x${ratio.toFixed(2)} during the attack`);
    normal.destroy();
  } finally {
    clearInterval(trickle);
    for (const s of attackers) s.destroy();
    await engine.stop();
  }
});
