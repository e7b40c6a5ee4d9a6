#!/usr/bin/env node
// ringnet CLI: `ringnet echo …` runs an echo server; `ringnet bench …` the benchmarks.
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { serve } from './serve';
import type { Conn } from './conn';

const USAGE = `usage:
  ringnet --version
  ringnet echo [--host 127.0.0.1] [--port 9000] [--loops N] [--pin] [--reuse-port] [--backend auto|epoll|io_uring]
  ringnet bench [--quick] [--loops N] [...]     echo servers vs node:net (see bench/README.md)
  ringnet bench pool [--quick]                  worker pool vs piscina`;

function flag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
}

function value(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

// An integer flag: the message names the flag and what it got (`--port abc`).
function intValue(args: string[], name: string, def: number, min: number, max: number): number {
  const raw = value(args, name, String(def));
  const v = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) fail(`${name} must be an integer in ${min}..${max}, got '${raw}'`);
  return v;
}

const ECHO_HELP = `usage: ringnet echo [options]
  An echo server (it respects backpressure: a peer that does not read slows the
  sender, server memory stays bounded).
  --host H                 address to listen on (default 127.0.0.1; IPv6 as ::1)
  --port P                 port (default 9000; 0: any free port, printed)
  --loops N                event loops, each on its own thread when N > 1 (default 1)
  --pin                    pin loop i to CPU i
  --reuse-port             a SO_REUSEPORT listener per loop instead of the main reactor
  --backend B              auto | epoll | io_uring (default auto: RINGNET_BACKEND, else epoll)
  -h, --help               this help`;

function version(): string {
  // dist/cli.js → ../package.json, in a checkout and in an installed package alike
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require(path.join(__dirname, '..', 'package.json')) as { version: string }).version;
}

function fail(msg: string): never {
  process.stderr.write(`ringnet: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

import { echoHandler } from './echo-handler';
export { echoHandler };

async function echo(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${ECHO_HELP}\n`);
    return;
  }
  const host = value(args, '--host', '127.0.0.1');
  const port = intValue(args, '--port', 9000, 0, 65535);
  const loops = intValue(args, '--loops', 1, 1, 1024);
  const pin = flag(args, '--pin');
  const reusePort = flag(args, '--reuse-port');
  const backend = value(args, '--backend', 'auto');
  if (backend !== 'auto' && backend !== 'epoll' && backend !== 'io_uring') fail(`--backend must be auto, epoll or io_uring, got '${backend}'`);
  if (args.length) fail(`unknown argument '${args[0]}'`);
  const addr = host.includes(':') ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
  const handler = loops > 1 ? path.join(__dirname, 'echo-handler.js') : echoHandler;
  const engine = await serve(handler, addr, { loops, pin, reusePort, backend });
  const fellBack = engine.backendFallback ? ` — io_uring refused: ${engine.backendFallback}` : '';
  process.stdout.write(`listening on ${engine.addr} (loops: ${loops}${pin ? ', pinned' : ''}, backend: ${engine.backend}${fellBack})\n`);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`ringnet: ${sig}, stopping\n`);
    engine.stop({ timeout: 3000 }).then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`ringnet: stop failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function bench(args: string[]): void {
  const root = path.join(__dirname, '..');
  const script = args[0] === 'pool' ? path.join(root, 'bench', 'pool.js') : path.join(root, 'bench', 'echo.js');
  if (args[0] === 'pool') args = args.slice(1);
  else if (process.platform === 'win32') {
    // Says what it cannot run rather than failing in a compiler call.
    process.stderr.write(
      "ringnet bench: the echo bench's load generator and C floor (bench/loadgen.c, bench/c_echo.c) are Linux programs " +
        '(epoll, pthreads) with no Windows build yet, so nothing is measured here. On Windows, run `ringnet echo` and drive it ' +
        "from a Linux load generator (the repository's `npm run echo:win` does that under Wine); `ringnet bench pool` runs here.\n",
    );
    process.exit(2);
  }
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const cmd = args.shift();
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    process.stdout.write(`ringnet ${version()}\n`);
    return;
  }
  if (cmd === 'echo') return echo(args);
  if (cmd === 'bench') return bench(args);
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  fail(`unknown command '${cmd}'`);
}

// Run only as the program: `require('ringnet/dist/cli')` (echoHandler) must not.
if (require.main === module) {
  main().catch((e: NodeJS.ErrnoException) => {
    process.stderr.write(`${e.message.startsWith('ringnet:') ? '' : 'ringnet: '}${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
    process.exit(1);
  });
}
