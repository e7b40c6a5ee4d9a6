import * as os from 'node:os';
import { describeValue, makeError, unknownKey } from './errors';
import type { NativeLoopOptions } from './native';
import type { TlsOptions } from './tls';
import { resolveUdpOptions, UdpOptions } from './udp-options';
import { CodecOptions, resolveCodec } from './codec';

/** Options of {@link serve}. Sizes are in bytes, times in ms unless named otherwise. */
export interface ServeOptions {
  /** Number of event loops (default 1; see `multicore`). */
  loops?: number;
  /** One loop per available CPU (when `loops` is not given). */
  multicore?: boolean;
  /** Pin loop i to CPU i (mod the CPUs this process may use). */
  pin?: boolean;
  /** How the main reactor picks a loop for a new connection. */
  loadBalancing?: 'roundRobin' | 'leastConnections' | 'sourceAddrHash';
  /** Each loop gets its own SO_REUSEPORT listener (no main reactor hand-off). */
  reusePort?: boolean;
  /** SO_REUSEADDR on listeners (default true). */
  reuseAddr?: boolean;
  /** listen() backlog (default 1024). */
  backlog?: number;
  /** Bytes read per read syscall, and the first inbound buffer's size (default 64 KiB). */
  readBufferCap?: number;
  /** Outbound high watermark: `write()` returns false above it (default 64 KiB). */
  writeBufferCap?: number;
  /**
   * A connection's hard outbound cap (default 16 MiB; `Infinity`: none). Bytes
   * written and not yet taken by the kernel may not pass it: the write that would
   * closes the connection at once, dropping what is queued, and `onClose` gets an
   * error with code `ERR_RINGNET_OUTBOUND_LIMIT` (an `asyncWrite` callback too).
   * A handler that stops writing when `write()` returns false never gets near it;
   * it is there for one that does not, against a peer that does not read.
   */
  outboundLimit?: number;
  /**
   * A connection's inbound cap: reading pauses there until the handler consumes
   * (default 4 MiB). A handler that waits for a whole message before consuming needs
   * it at least as large as its largest message.
   */
  inboundLimit?: number;
  /** Connections per loop (default 65536); more are accepted and closed at once. */
  maxConnections?: number;
  /** TCP_NODELAY on accepted connections (default true). */
  tcpNoDelay?: boolean;
  /** TCP keep-alive period in seconds (default 0: off). */
  tcpKeepAlive?: number;
  /** SO_RCVBUF of accepted sockets (default: kernel's). */
  socketRecvBuffer?: number;
  /** SO_SNDBUF of accepted sockets (default: kernel's). */
  socketSendBuffer?: number;
  /**
   * node:net's option of the same name (default false). Off: when the peer
   * finishes sending (FIN), `onEnd` is called, writes it makes and queued bytes are
   * sent, then the connection closes. On: the connection stays writable after the
   * peer's FIN until the handler closes it (or calls `shutdownWrite()`).
   */
  allowHalfOpen?: boolean;
  /**
   * Close a connection after this many ms without a byte in either direction
   * (default 0: never). Per connection: {@link Conn.setIdleTimeout}. With an
   * `onTimeout` handler it is called instead of closing. Deadlines run on each
   * loop's native timer wheel (10 ms ticks): no JS timer per connection.
   */
  idleTimeout?: number;
  /**
   * File mode of `unix:///path` listeners' socket files, e.g. `0o660` (default:
   * what the umask gives). Who may connect is who may write the file.
   */
  unixMode?: number;
  /**
   * With `loops > 1`: how many times each loop may be restarted in any 60 s after
   * it fails — an uncaught exception or unhandled rejection on its thread
   * (default 3; 0: a failed loop stays down). Restarts wait 100 ms, doubling per
   * recent failure. See the engine's `'loopError'` event.
   */
  loopRestarts?: number;
  /** Call `onTick` periodically. */
  ticker?: boolean;
  /** Bytes of the JS-side area small writes are copied into before a flush (default 1 MiB). */
  stagingSize?: number;
  /** Most events handed to JS in one native→JS call (default 16384); more arrive in further calls. */
  batchEvents?: number;
  /**
   * The I/O backend (Linux): `'epoll'`, `'io_uring'`, or `'auto'` (the default:
   * `RINGNET_BACKEND` from the environment if set, else epoll). Named here,
   * `'io_uring'` is required: `serve` rejects with `ERR_RINGNET_BACKEND_UNAVAILABLE`
   * where the kernel, `kernel.io_uring_disabled` or seccomp refuses it. Asked for
   * by `RINGNET_BACKEND=io_uring` instead, it falls back to epoll and
   * {@link Engine.backendFallback} says why. {@link Engine.backend} says which runs.
   */
  backend?: 'auto' | 'epoll' | 'io_uring';
  /**
   * TLS for the `tls://` addresses (node:tls's option names: `cert`, `key`, `ca`,
   * `passphrase`, `pfx`, `crl`, `requestCert`, `rejectUnauthorized`, `ALPNProtocols`, `ciphers`,
   * `minVersion`, `maxVersion`, `sessionTimeout`, `handshakeTimeout`; plus `SNIContexts` and `tickets`).
   * The handshake runs on the loop; `onOpen` comes after it. See {@link TlsOptions}.
   */
  tls?: TlsOptions;
  /**
   * Cut every accepted connection's inbound bytes into frames, natively:
   * length-field, delimiter, fixed-size or line ({@link CodecOptions}). The
   * handler's `onMessage(conn, frame)` is then called once per frame (and
   * `onTraffic` never for inbound bytes); `conn.writeFrame(data)` frames a
   * reply. Connections from {@link Engine.dial} use it too unless the dial names
   * its own (`codec: null`: none). Every listener and loop uses the same codec.
   */
  codec?: CodecOptions;
  /**
   * Any structured-cloneable value made available to every loop as
   * {@link Engine.data} — e.g. a worker pool's `handle`, so handlers on every loop
   * thread can `WorkerPool.attach()` to one pool.
   */
  data?: unknown;
  /** How `udp://` listeners are opened (datagram size, batch, buffers, multicast): see {@link UdpOptions}. */
  udp?: UdpOptions;
}

/** @internal */
export interface ResolvedOptions extends NativeLoopOptions {
  loops: number;
  pin: boolean;
  loadBalancing: 'roundRobin' | 'leastConnections' | 'sourceAddrHash';
  reusePort: boolean;
  reuseAddr: boolean;
  backlog: number;
  /** -1: leave the umask's mode. */
  unixMode: number;
  ticker: boolean;
  loopRestarts: number;
  data: unknown;
  tls: TlsOptions | undefined;
  udp: UdpOptions;
}

function bad(name: string, v: unknown, want: string): Error {
  const e = makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: option '${name}' must be ${want}, got ${describeValue(v)}`);
  return e;
}

/** Every option {@link serve} knows: any other key is a typo, and rejected. */
const KNOWN_OPTIONS: readonly (keyof ServeOptions)[] = [
  'loops', 'multicore', 'pin', 'loadBalancing', 'reusePort', 'reuseAddr', 'backlog', 'readBufferCap', 'writeBufferCap',
  'outboundLimit', 'inboundLimit', 'maxConnections', 'tcpNoDelay', 'tcpKeepAlive', 'socketRecvBuffer', 'socketSendBuffer',
  'allowHalfOpen', 'loopRestarts', 'ticker', 'stagingSize', 'batchEvents', 'backend', 'tls', 'data', 'idleTimeout', 'unixMode', 'udp', 'codec',
];

function int(o: ServeOptions, name: keyof ServeOptions, def: number, min: number, max: number): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(name, v, `an integer in ${min}..${max}`);
  return v;
}

function bool(o: ServeOptions, name: keyof ServeOptions, def: boolean): boolean {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw bad(name, v, 'a boolean');
  return v;
}

// outboundLimit: an integer in writeBufferCap..2^32-1, or Infinity (native: 0 = no cap).
function outboundLimit(o: ServeOptions, writeBufferCap: number): number {
  const v = o.outboundLimit;
  if (v === undefined) return Math.max(16 * 1024 * 1024, writeBufferCap);
  if (v === Infinity) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < writeBufferCap || v > 2 ** 32 - 1) {
    throw bad('outboundLimit', v, `an integer in ${writeBufferCap} (writeBufferCap)..${2 ** 32 - 1}, or Infinity`);
  }
  return v;
}

/** CPUs this process may run on. @internal */
export function availableCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

const BACKENDS = ['epoll', 'io_uring'];

/** The backend option and RINGNET_BACKEND resolved to what the native loop is asked for. @internal */
export function resolveBackend(v: unknown, env: string | undefined): { backend: 'epoll' | 'io_uring'; backendFallback: boolean } {
  if (v !== undefined && v !== 'auto') {
    if (typeof v !== 'string' || !BACKENDS.includes(v)) throw bad('backend', v, "'auto', 'epoll' or 'io_uring'");
    return { backend: v as 'epoll' | 'io_uring', backendFallback: false };
  }
  if (env === undefined || env === '' || env === 'auto') return { backend: 'epoll', backendFallback: true };
  if (!BACKENDS.includes(env)) throw bad('backend (from RINGNET_BACKEND)', env, "'auto', 'epoll' or 'io_uring'");
  return { backend: env as 'epoll' | 'io_uring', backendFallback: true };
}

/** Validate and fill defaults. @internal */
export function resolveOptions(o: ServeOptions = {}): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw bad('options', o, 'an object');
  const extra = unknownKey(o, KNOWN_OPTIONS);
  if (extra !== undefined) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: unknown option '${extra}' (known: ${KNOWN_OPTIONS.join(', ')})`);
  }
  const multicore = bool(o, 'multicore', false);
  const lb = o.loadBalancing ?? 'roundRobin';
  if (lb !== 'roundRobin' && lb !== 'leastConnections' && lb !== 'sourceAddrHash') {
    throw bad('loadBalancing', lb, "'roundRobin', 'leastConnections' or 'sourceAddrHash'");
  }
  const readBufferCap = int(o, 'readBufferCap', 64 * 1024, 512, 64 << 20);
  const writeBufferCap = int(o, 'writeBufferCap', 64 * 1024, 1, 2 ** 31 - 1);
  return {
    loops: int(o, 'loops', multicore ? availableCpus() : 1, 1, 1024),
    pin: bool(o, 'pin', false),
    loadBalancing: lb,
    reusePort: bool(o, 'reusePort', false),
    reuseAddr: bool(o, 'reuseAddr', true),
    backlog: int(o, 'backlog', 1024, 1, 1 << 20),
    ticker: bool(o, 'ticker', false),
    loopRestarts: int(o, 'loopRestarts', 3, 0, 1000),
    data: o.data,
    tls: o.tls,
    udp: resolveUdpOptions(o.udp),
    maxConnections: int(o, 'maxConnections', 65536, 1, 1 << 24),
    readBufferCap,
    inboundLimit: Math.max(readBufferCap, int(o, 'inboundLimit', 4 * 1024 * 1024, 512, 2 ** 31 - 1)),
    writeBufferCap,
    outboundLimit: outboundLimit(o, writeBufferCap),
    stagingSize: int(o, 'stagingSize', 1024 * 1024, 64 * 1024, 1 << 30),
    batchEvents: int(o, 'batchEvents', 16384, 16, 1 << 20),
    tcpNoDelay: bool(o, 'tcpNoDelay', true),
    allowHalfOpen: bool(o, 'allowHalfOpen', false),
    idleTimeout: int(o, 'idleTimeout', 0, 0, 2 ** 31 - 1),
    unixMode: int(o, 'unixMode', -1, 0, 0o7777),
    tcpKeepAlive: int(o, 'tcpKeepAlive', 0, 0, 1 << 20),
    socketRecvBuffer: int(o, 'socketRecvBuffer', 0, 0, 2 ** 31 - 1),
    socketSendBuffer: int(o, 'socketSendBuffer', 0, 0, 2 ** 31 - 1),
    ...resolveBackend(o.backend, process.env.RINGNET_BACKEND),
    codec: resolveCodec(o.codec),
  };
}
