'use strict';
// Issue 8 fault harness: a checksummed echo through a network namespace with
// `tc netem` loss, delay and reordering. Two namespaces made here (a server and a
// client end of one veth pair, addresses only inside them): `ringnet echo` runs in
// one, bench/echocheck.c in the other sends a seeded byte stream on several
// connections and checks every echoed byte. Needs root, `ip` and `tc` (CI runs as
// root); skipped with the reason otherwise. Where the kernel has no netem
// (sch_netem), tbf shaping with a short queue stands in: delay and tail-drop
// loss, no reordering — the test says which ran. TCP retransmissions are read from
// the namespaces' /proc/net/snmp to show the faults really happened.
//   RINGNET_NETEM_SEED=N   replay a run (the seed is printed)
const { test } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { build } = require('../../bench/build');

const root = path.join(__dirname, '..', '..');
const TAG = `rn8${process.pid % 100000}`;
const NS_S = `${TAG}s`;
const NS_C = `${TAG}c`;
const SERVER_IP = '10.208.0.1';
const CLIENT_IP = '10.208.0.2';
const CONNS = 4;
const MIB = 2;

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000, ...opts });
}

function must(cmd, args) {
  const r = sh(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout || '').trim() || `status ${r.status}`}`);
  return r.stdout;
}

function whyNot() {
  if (process.platform !== 'linux') return 'network namespaces are Linux-only';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (ip netns, tc)';
  for (const tool of ['ip', 'tc']) if (sh('sh', ['-c', `command -v ${tool}`]).status !== 0) return `'${tool}' is not installed (iproute2)`;
  const probe = `${TAG}p`;
  const r = sh('ip', ['netns', 'add', probe]);
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  sh('ip', ['netns', 'del', probe]);
  return null;
}

function cleanup() {
  sh('ip', ['netns', 'del', NS_S]);
  sh('ip', ['netns', 'del', NS_C]); // the veth pair goes with its namespaces
}

function retrans(ns) {
  const snmp = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']).stdout;
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('RetransSegs')]);
}

// Faults on both directions: netem if the kernel has it, else tbf.
function addFaults(seed) {
  const netem = ['delay', '4ms', '2ms', 'distribution', 'normal', 'loss', 'random', '1%', 'reorder', '10%', '50%', 'limit', '10000'];
  const ends = [[NS_S, `${TAG}a`, seed], [NS_C, `${TAG}b`, seed + 1]];
  const add = (ns, dev, args) => sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', ...args]);
  // netem's own seed (tc ≥ 6.2) makes the loss pattern replayable; older tc lacks it.
  let r = add(NS_S, `${TAG}a`, ['netem', ...netem, 'seed', String(seed)]);
  const seeded = r.status === 0;
  if (!seeded && /What is "seed"/.test(r.stderr)) r = add(NS_S, `${TAG}a`, ['netem', ...netem]);
  if (r.status === 0) {
    const [ns, dev, s2] = ends[1];
    must('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', ...netem, ...(seeded ? ['seed', String(s2)] : [])]);
    return `netem ${netem.join(' ')}${seeded ? ` seed ${seed}` : " (this tc has no netem seed: the kernel's randomness)"}`;
  }
  const why = r.stderr.trim().split('\n').pop();
  const tbf = ['rate', '24mbit', 'burst', '6kb', 'limit', '12kb'];
  for (const [ns, dev] of ends) must('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', ...tbf]);
  return `tbf ${tbf.join(' ')} — netem is not in this kernel (${why}): queueing delay and tail-drop loss, no reordering`;
}

const reason = whyNot();

test('issue8 fault harness: checksummed echo through netem loss/delay/reorder, bytes in = bytes out', { skip: reason ? `netem harness skipped: ${reason}` : false, timeout: 150000 }, async () => {
  const seed = Number(process.env.RINGNET_NETEM_SEED || Math.floor(Math.random() * 2 ** 31));
  console.log(`netem: seed ${seed} (replay: RINGNET_NETEM_SEED=${seed})`);
  const { echocheck } = build({ quiet: true });
  let server;
  process.once('exit', cleanup); // a crash mid-test leaves no namespace behind
  try {
    cleanup();
    must('ip', ['netns', 'add', NS_S]);
    must('ip', ['netns', 'add', NS_C]);
    must('ip', ['link', 'add', `${TAG}a`, 'netns', NS_S, 'type', 'veth', 'peer', 'name', `${TAG}b`, 'netns', NS_C]);
    must('ip', ['-n', NS_S, 'addr', 'add', `${SERVER_IP}/30`, 'dev', `${TAG}a`]);
    must('ip', ['-n', NS_C, 'addr', 'add', `${CLIENT_IP}/30`, 'dev', `${TAG}b`]);
    for (const [ns, dev] of [[NS_S, `${TAG}a`], [NS_C, `${TAG}b`]]) {
      must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    const faults = addFaults(seed);
    console.log(`netem: faults on both directions: ${faults}`);

    server = spawn('ip', ['netns', 'exec', NS_S, process.execPath, path.join(root, 'dist', 'cli.js'), 'echo', '--host', SERVER_IP, '--port', '0', '--loops', '2'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`ringnet echo did not start in the namespace: ${out}`)), 20000);
      server.stdout.on('data', (d) => {
        out += d;
        const m = /listening on tcp:\/\/[\d.]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
      server.once('exit', (c) => reject(new Error(`ringnet echo exited (${c}): ${out}`)));
    });
    const before = retrans(NS_C) + retrans(NS_S);
    const client = sh('ip', ['netns', 'exec', NS_C, echocheck, SERVER_IP, String(port), '--conns', String(CONNS), '--mib', String(MIB), '--seed', String(seed), '--timeout-s', '100'], {
      timeout: 120000,
    });
    const retransmitted = retrans(NS_C) + retrans(NS_S) - before;
    const qstats = [NS_S, NS_C].map((ns) => sh('ip', ['netns', 'exec', ns, 'tc', '-s', 'qdisc', 'show']).stdout.replace(/\s+/g, ' ').trim());
    assert.ok(client.stdout.trim(), `echocheck printed nothing: ${client.stderr}`);
    const r = JSON.parse(client.stdout.trim());
    const total = CONNS * MIB * 1024 * 1024;
    console.log(`netem: ${CONNS} connections × ${MIB} MiB: bytes in ${r.sent} = bytes out ${r.received}, mismatches ${r.mismatches}, ${r.ms} ms, ${retransmitted} TCP segments retransmitted`);
    console.log(`netem: qdiscs: ${qstats.join(' | ')}`);
    assert.strictEqual(client.status, 0, `echocheck failed: ${client.stderr}`);
    assert.strictEqual(r.sent, total);
    assert.strictEqual(r.received, total, 'bytes out = bytes in');
    assert.strictEqual(r.mismatches, 0, 'every echoed byte as sent');
    assert.ok(retransmitted > 0, 'the faults made TCP retransmit (else the harness tested nothing)');
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          server.kill('SIGKILL');
          r();
        }, 5000);
        server.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    cleanup();
    process.off('exit', cleanup);
  }
});
