// Client dial (issue 10): parse and resolve the address off the loop (dns.lookup
// runs on libuv's thread pool), then connect on the loop that will own the
// connection (LoopCore.dial → native loop_dial, the timeout on its timer wheel).
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { LoopCore } from './loop';
import type { Conn } from './conn';
import { describeValue, makeError, RingnetError, unknownKey } from './errors';
import { parseAddr } from './addr';

/** Options of {@link Engine.dial}. */
export interface DialOptions {
  /**
   * Give up after this many ms (name resolution included) and reject with
   * `ETIMEDOUT`. 0 or absent: no limit of ringnet's own (the kernel's SYN retries
   * still end a connect to a silent host after about two minutes).
   */
  timeout?: number;
  /** Set as `conn.context` before `onOpen` runs for the new connection. */
  context?: unknown;
}

const KNOWN = ['timeout', 'context'] as const;

function invalid(addr: string, why: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_ADDR', `ringnet: dial: invalid address '${addr}': ${why}`);
}

/** Where to connect, resolved to a numeric host. @internal */
export interface DialTarget {
  host: string;
  port: number;
  /** As given, for messages. */
  where: string;
  /** host is a Unix socket path. */
  unix?: boolean;
}

/** Parse and resolve a dial address (tcp, tcp4, tcp6; unix as it is). @internal */
export async function resolveDial(addr: unknown): Promise<DialTarget> {
  const a = parseAddr(addr); // throws ERR_RINGNET_INVALID_ADDR
  const where = String(addr);
  if (a.udp) throw invalid(where, 'udp:// cannot be dialed: UDP has no connection (send with engine.sendTo)');
  if (a.network === 'unix') return { host: a.host, port: 0, where, unix: true };
  if (a.port === 0) throw invalid(where, 'port 0 cannot be dialed');
  let host = a.host;
  if (host === '' || host === '*') throw invalid(where, 'a dial needs a host');
  if (host === 'localhost') host = a.network === 'tcp6' ? '::1' : '127.0.0.1';
  const fam = isIP(host);
  if (fam === 0) {
    try {
      const r = await lookup(host, { family: a.network === 'tcp6' ? 6 : a.network === 'tcp4' ? 4 : 0 });
      host = r.address;
    } catch (e) {
      const err = invalid(where, `cannot resolve host '${host}' (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
  } else if ((a.network === 'tcp4' && fam !== 4) || (a.network === 'tcp6' && fam !== 6)) {
    throw invalid(where, `host '${host}' is not an IPv${a.network === 'tcp4' ? 4 : 6} address`);
  }
  return { host, port: a.port, where };
}

function timedOut(where: string): RingnetError {
  const e = makeError('ETIMEDOUT', `ringnet: dial ${where}: ETIMEDOUT (while resolving the host name)`);
  e.syscall = 'getaddrinfo';
  return e;
}

/** engine.dial on one loop of this thread. @internal */
export async function dialOn(core: LoopCore, addr: unknown, opts: DialOptions = {}): Promise<Conn> {
  if (opts === null || typeof opts !== 'object') throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: dial options must be an object, got ${describeValue(opts)}`);
  const extra = unknownKey(opts, KNOWN);
  if (extra !== undefined) throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: unknown dial option '${extra}' (known: ${KNOWN.join(', ')})`);
  const timeout = opts.timeout ?? 0;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0 || timeout > 0x7fffffff) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: dial option 'timeout' must be a number of ms >= 0, got ${describeValue(timeout)}`);
  }
  const start = Date.now();
  let target: DialTarget;
  if (timeout > 0) {
    let timer: NodeJS.Timeout | undefined;
    const where = String(addr);
    try {
      target = await Promise.race([
        resolveDial(addr),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timedOut(where)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  } else {
    target = await resolveDial(addr);
  }
  let left = 0;
  if (timeout > 0) {
    left = Math.ceil(timeout - (Date.now() - start));
    if (left <= 0) throw timedOut(target.where);
  }
  return core.dial(target.host, target.port, left, opts.context, target.where, target.unix === true);
}
