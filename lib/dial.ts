// Client dial (issue 10): parse and resolve the address off the loop (dns.lookup
// runs on libuv's thread pool), then connect on the loop that will own the
// connection (LoopCore.dial → native loop_dial, the timeout on its timer wheel).
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { LoopCore } from './loop';
import type { Conn } from './conn';
import { describeValue, makeError, RingnetError, unknownKey } from './errors';
import { parseAddr } from './addr';
import { CodecOptions, resolveCodec } from './codec';
import { clientContext, TLS_CONNECT_KEYS, TlsConnectOptions } from './tls';

/**
 * Options of {@link Engine.dial}. A `tls://` (`tls4://`, `tls6://`) address also
 * takes {@link TlsConnectOptions} (`servername`, `ca`, `rejectUnauthorized`,
 * `ALPNProtocols`, `cert`/`key`, `session` …): the promise resolves after the
 * handshake, and `timeout` covers the connect and the handshake.
 */
export interface DialOptions extends TlsConnectOptions {
  /**
   * Give up after this many ms (name resolution included) and reject with
   * `ETIMEDOUT`. 0 or absent: no limit of ringnet's own (the kernel's SYN retries
   * still end a connect to a silent host after about two minutes).
   */
  timeout?: number;
  /** Set as `conn.context` before `onOpen` runs for the new connection. */
  context?: unknown;
  /**
   * The connection's framing codec (frames to `onMessage`, `conn.writeFrame`); see
   * {@link CodecOptions}. Absent: the engine's `codec` option; `null`: none.
   */
  codec?: CodecOptions | null;
}

const KNOWN = ['timeout', 'context', 'codec', ...TLS_CONNECT_KEYS] as const;

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
  /** tls://: the host as given (before name resolution), for SNI and the certificate check. */
  tlsName?: string;
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
  const tlsName = a.tls ? host : undefined;
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
  return tlsName === undefined ? { host, port: a.port, where } : { host, port: a.port, where, tlsName };
}

/** What LoopCore.dial passes to the native dial for a tls:// address. @internal */
export interface NativeDialTls {
  context: object;
  servername: string;
  host: string;
  session?: Uint8Array;
}

// The TLS part of a dial: the context (cached per options) now, so bad options
// reject before any connect; the names once the address is parsed.
function tlsOf(addr: unknown, opts: DialOptions, defaults: TlsConnectOptions | undefined): ((name: string) => NativeDialTls) | undefined {
  const a = typeof addr === 'string' ? /^([a-z0-9]+):\/\//i.exec(addr)?.[1]?.toLowerCase() : undefined;
  const isTls = a === 'tls' || a === 'tls4' || a === 'tls6';
  const given = TLS_CONNECT_KEYS.filter((k) => opts[k] !== undefined);
  if (!isTls) {
    if (given.length > 0) {
      throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: dial option '${given[0]}' applies to tls:// addresses (dial ${String(addr)})`);
    }
    return undefined;
  }
  const o: TlsConnectOptions = { ...defaults };
  for (const k of given) (o as Record<string, unknown>)[k] = opts[k];
  const context = clientContext(o);
  return (name) => {
    const out: NativeDialTls = { context, servername: o.servername ?? name, host: o.servername || name };
    if (o.session !== undefined) out.session = o.session;
    return out;
  };
}

function timedOut(where: string): RingnetError {
  const e = makeError('ETIMEDOUT', `ringnet: dial ${where}: ETIMEDOUT (while resolving the host name)`);
  e.syscall = 'getaddrinfo';
  return e;
}

/** engine.dial on one loop of this thread; tlsDefaults: createClient's `tls` option. @internal */
export async function dialOn(core: LoopCore, addr: unknown, opts: DialOptions = {}, tlsDefaults?: TlsConnectOptions): Promise<Conn> {
  if (opts === null || typeof opts !== 'object') throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: dial options must be an object, got ${describeValue(opts)}`);
  const extra = unknownKey(opts, KNOWN);
  if (extra !== undefined) throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: unknown dial option '${extra}' (known: ${KNOWN.join(', ')})`);
  const timeout = opts.timeout ?? 0;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0 || timeout > 0x7fffffff) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: dial option 'timeout' must be a number of ms >= 0, got ${describeValue(timeout)}`);
  }
  const codec = opts.codec === null ? undefined : opts.codec === undefined ? core.acceptCodec : resolveCodec(opts.codec, "dial option 'codec'");
  const tls = tlsOf(addr, opts, tlsDefaults);
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
  const t = tls && target.tlsName !== undefined ? tls(target.tlsName) : undefined;
  return core.dial(target.host, target.port, left, opts.context, target.where, target.unix === true, codec, t);
}
