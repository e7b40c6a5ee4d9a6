import { EventEmitter } from 'node:events';
import { statsOf } from './stats';
import type { LoopCore } from './loop';
import type { LoopStats } from './stats';
import { addon } from './native';
import { STAT_NAMES } from './layout';
import { Action, TickResult } from './handler';
import { formatAddr } from './addr';
import type { Conn, ConnHandle, Data, SocketAddress } from './conn';
import type { DialOptions } from './dial';
import { asyncClose, asyncWrite, wake } from './remote';
import { makeError } from './errors';
import type { RingnetError } from './errors';
import type { TlsOptions } from './tls';
import { pickSocket } from './udp';
import type { UdpSocket, UdpTarget } from './udp';

/** Options of {@link Engine.stop}. */
export interface StopOptions {
  /** ms to let connections flush their outbound bytes before they are closed regardless (default 5000). */
  timeout?: number;
}

/** Where one event loop runs. */
export interface LoopInfo {
  /** 0 … loops-1; `conn.loopIndex` names the same loop. */
  index: number;
  /** Process-wide id of the native loop (the `loop` of a {@link ConnHandle}). */
  id: number;
  /** CPU the loop's thread is pinned to, or -1 when not pinned. */
  cpu: number;
  /** OS thread id of the loop's thread (Linux tid), or -1. */
  threadId: number;
  /** The I/O backend this loop runs on: `'epoll'` or `'io_uring'`. */
  backend: string;
  /** Set when io_uring was asked for and refused here, so the loop runs on epoll: why. */
  backendFallback?: string;
  /**
   * False while the loop is down after a failure (restarting, or not restarted);
   * its `id` is then the failed loop's and {@link Engine.stats} keeps its last figures.
   */
  running: boolean;
}

/** What the {@link Engine} `'loopError'` event says about the loop that failed. */
export interface LoopErrorInfo {
  /** 0 … loops-1. */
  index: number;
  /** Native id of the loop that failed. */
  id: number;
  /** Whether the engine restarts it (a new loop thread for the same index). */
  restarting: boolean;
  /** Failures of this loop index in the last 60 s, this one included. */
  failures: number;
}

/** @internal how an engine of one kind (single loop, N loops, a loop's view) works */
export interface EngineImpl {
  count(): number;
  stats(): LoopStats[];
  loops(): LoopInfo[];
  stop(engine: Engine, timeout: number): Promise<void>;
  /** Dial on a loop of this thread; absent where there is none (the main thread of a loops > 1 engine). */
  dial?(addr: unknown, opts: DialOptions | undefined): Promise<Conn>;
  setSecureContext?(tls: TlsOptions): void | Promise<void>;
  /** The udp:// sockets of this thread's loop. */
  udp?(): UdpSocket[];
}

/**
 * The events of an {@link Engine} (it is an `EventEmitter`):
 *
 * - `'loopError'` `(err, info)`: a loop thread (`loops > 1`) failed — an uncaught
 *   exception or unhandled rejection escaped the handler module on that thread
 *   (a callback's own throw or rejection only closes its connection). At that
 *   moment the loop stopped taking connections (the main reactor hands them to
 *   the others; with `reusePort` its listener closed) and every connection it had
 *   was reset, `onClose` getting the error. `err.code` is
 *   `ERR_RINGNET_LOOP_FAILED`, `err.cause` what was thrown, `info` says whether
 *   the engine restarts the loop (by default up to `loopRestarts` times a
 *   minute). With no listener the error is printed as a process warning.
 * - `'error'` `(err)`: the engine stopped because no loop is left (every loop
 *   failed and none is restarted): `err.code` is `ERR_RINGNET_NO_LOOPS`,
 *   {@link Engine.stopped} is true and {@link Engine.stopReason} is `err`. As with
 *   any `EventEmitter`, an `'error'` nobody listens to is thrown (and ends the
 *   process unless caught): a server that cannot serve should not look alive.
 * - `'close'` `()`: {@link Engine.stop} finished (every loop joined, every fd closed).
 *
 * With `loops: 1` the loop runs on the main thread, where an uncaught exception
 * is the process's, as in any Node program.
 */
export interface EngineEvents {
  loopError: [err: RingnetError, info: LoopErrorInfo];
  error: [err: RingnetError];
  close: [];
}

export interface Engine {
  on<K extends keyof EngineEvents>(event: K, listener: (...args: EngineEvents[K]) => void): this;
  once<K extends keyof EngineEvents>(event: K, listener: (...args: EngineEvents[K]) => void): this;
  off<K extends keyof EngineEvents>(event: K, listener: (...args: EngineEvents[K]) => void): this;
  emit<K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]): boolean;
}

/**
 * A running server: its listeners and event loops. Made by {@link serve}. In a
 * handler running on a loop thread (`loops > 1`), the engine passed to `onBoot`
 * and `onShutdown` is a view of the same engine: `stop()` there asks the main
 * thread to stop everything. Events: see {@link EngineEvents}.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Engine extends EventEmitter {
  /** The first listener's address, e.g. `tcp://127.0.0.1:41234` (the real port when 0 was asked for); `''` for a client engine ({@link createClient}). */
  readonly addr: string;
  /** Every listener's address. */
  readonly addrs: readonly string[];
  /** The first listener's address as an object. */
  readonly address: SocketAddress;
  /** The `data` option of {@link serve} (a structured clone of it on loop threads). */
  readonly data: unknown;
  private stopping: Promise<void> | undefined;
  private reason: RingnetError | undefined;

  /** @internal */
  constructor(addrs: SocketAddress[], private readonly impl: EngineImpl, data: unknown = undefined, tlsFlags: readonly (boolean | 'udp')[] = []) {
    super();
    this.data = data;
    this.address = addrs[0];
    this.addrs = addrs.map((a, i) => formatAddr(a.address, a.port, tlsFlags[i] === true, a.family, tlsFlags[i] === 'udp'));
    this.addr = this.addrs[0] ?? '';
  }

  /**
   * Open a connection to `addr` (`tcp://host:port`, `tcp4://`, `tcp6://`, host
   * names resolved with `dns.lookup`, off the loop; or `unix:///path/to.sock`,
   * `unix://@name`). The connect is
   * non-blocking, on the loop that will own the connection: called from a
   * handler, the loop running that handler (a proxy's upstream shares its
   * client's loop). Once connected the handler's `onOpen` runs for the new
   * connection with `conn.dialed === true` and `conn.context` = `opts.context`,
   * then the promise resolves to it; after that it gets the same callbacks as an
   * accepted connection.
   *
   * Rejects with `code`: `ECONNREFUSED`, `ETIMEDOUT` (`opts.timeout`, on the
   * loop's timer wheel), `ENETUNREACH`, `EHOSTUNREACH`, `ERR_RINGNET_INVALID_ADDR`
   * (a malformed address or a host that does not resolve), `ECANCELED` (the
   * engine stopped first), `ERR_RINGNET_NO_LOOP` (the main thread of a
   * `loops > 1` engine owns no loop: dial from a handler there), or
   * `ERR_RINGNET_STOPPED`.
   */
  dial(addr: string, opts?: DialOptions): Promise<Conn> {
    if (this.stopping) return Promise.reject(makeError('ERR_RINGNET_STOPPED', `ringnet: dial ${String(addr)}: the engine is stopped`));
    if (!this.impl.dial) {
      return Promise.reject(
        makeError('ERR_RINGNET_NO_LOOP', `ringnet: dial ${String(addr)}: this thread owns no loop of the engine (loops > 1): dial from a handler (onBoot's engine, onOpen, onTraffic), whose loop then owns the connection`),
      );
    }
    return this.impl.dial(addr, opts);
  }

  /**
   * The `udp://` sockets of the loop on this thread, in listen order (on the main
   * thread of a `loops > 1` engine: none; use `engine` in a handler there).
   */
  get udpSockets(): readonly UdpSocket[] {
    return this.impl.udp?.() ?? [];
  }

  /**
   * Send one datagram to `to` (`'udp://127.0.0.1:9000'`, `'[::1]:9000'`, `{ address,
   * port }`) from this engine's first open `udp://` socket of the same family on
   * this thread (see {@link UdpSocket.sendTo}). Throws `ERR_RINGNET_NO_UDP` if there
   * is none; returns false if the datagram was dropped (queue and send buffer full).
   */
  sendTo(to: UdpTarget, data: Data): boolean {
    return pickSocket(this.udpSockets, to).sendTo(to, data);
  }

  /** Open connections across all loops. */
  countConnections(): number {
    return this.impl.count();
  }

  /**
   * Per-loop counters (connections, bytes, read/write syscalls, batches…), read
   * without stopping the loops. After {@link stop}, and for a loop that failed,
   * the last figures it had.
   */
  stats(): LoopStats[] {
    return this.impl.stats();
  }

  /** The engine's loops: index, native id, pinned CPU, thread id, backend. */
  get loops(): LoopInfo[] {
    return this.impl.loops();
  }

  /**
   * The I/O backend the loops run on, after any fallback: `'epoll'` or
   * `'io_uring'`. When io_uring was asked for (`RINGNET_BACKEND=io_uring`) and the
   * kernel, `kernel.io_uring_disabled` or a seccomp profile refused it, this says
   * `'epoll'` and {@link backendFallback} says why.
   */
  get backend(): string {
    return this.impl.loops()[0]?.backend ?? 'epoll';
  }

  /** Why the engine runs on epoll although io_uring was asked for; undefined if it was not refused. */
  get backendFallback(): string | undefined {
    return this.impl.loops()[0]?.backendFallback;
  }

  /**
   * Queue `data` for a connection of this engine, from any thread, by its
   * {@link ConnHandle} (`conn.handle`). Same as the package's `asyncWrite`.
   */
  asyncWrite(handle: ConnHandle, data: Data): void {
    asyncWrite(handle, data);
  }

  /** Close a connection by its handle, from any thread (after its queued bytes). */
  asyncClose(handle: ConnHandle): void {
    asyncClose(handle);
  }

  /** Make a connection's loop call `onTraffic` for it, from any thread. */
  wake(handle: ConnHandle): void {
    wake(handle);
  }

  /**
   * Replace the TLS certificate (and every other TLS option) of the engine's
   * `tls://` listeners without dropping connections: handshakes from now on use
   * the new context, open connections keep theirs. Throws with the OpenSSL code
   * (`ERR_OSSL_PEM_NO_START_LINE`, `ERR_OSSL_X509_KEY_VALUES_MISMATCH` …) and keeps
   * the old context when the new options are bad; `ERR_RINGNET_TLS_UNSUPPORTED` on
   * an engine without TLS listeners (or called from a loop thread's engine view).
   * With `loops > 1` every loop builds the new context on its own thread: the
   * promise resolves once all of them use it (at once with `loops: 1`). The
   * engine's ticket keys are kept unless `tls.ticketKeys` is given, so sessions
   * still resume after a reload. An `SNICallback` in `tls` answers from now on
   * (with `loops > 1` too: it runs on this thread), and contexts built from
   * earlier answers are dropped, as they were merged over the old options.
   */
  setSecureContext(tls: TlsOptions): Promise<void> {
    if (!this.impl.setSecureContext) {
      throw makeError('ERR_RINGNET_TLS_UNSUPPORTED', 'ringnet: setSecureContext() applies to an engine with tls:// listeners, on the thread that started it');
    }
    return Promise.resolve(this.impl.setSecureContext(tls));
  }

  /** Whether the engine is stopped or stopping: {@link stop} was called, or no loop is left ({@link stopReason}). */
  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Why the engine stopped by itself (`ERR_RINGNET_NO_LOOPS`: every loop failed,
   * none restarted; `cause` is the last loop's error); undefined after a plain
   * {@link stop} or while running.
   */
  get stopReason(): RingnetError | undefined {
    return this.reason;
  }

  /**
   * Stop gracefully: stop accepting, call `onShutdown` on every loop, let
   * connections flush their outbound bytes (closing each when drained, or all at
   * `timeout`), join the loop threads and free every fd. Resolves when all of
   * that is done; calling it again returns the same promise.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    if (!this.stopping) {
      this.stopping = this.impl.stop(this, opts.timeout ?? 5000).then(() => void this.emit('close'));
    }
    return this.stopping;
  }

  /** @internal no loop is left: stop, and say why ('error'). */
  fail(reason: RingnetError): void {
    if (this.stopping) return;
    this.reason = reason;
    this.stop().catch((e) => process.emitWarning(e));
    this.emit('error', reason);
  }

  /** @internal used by Action.Shutdown */
  shutdown(): void {
    this.stop().catch((e) => process.emitWarning(e));
  }
}

/**
 * The stop sequence of loops running on this thread. @internal
 */
export async function stopCores(cores: LoopCore[], engine: Engine, timeout: number): Promise<void> {
  // Never tear down inside a handler's batch: let it finish first.
  await new Promise<void>((r) => setImmediate(r));
  for (const c of cores) c.native.unlisten();
  for (const c of cores) {
    try {
      c.handler.onShutdown?.(engine);
    } catch (e) {
      process.emitWarning(e as Error);
    }
  }
  for (const c of cores) {
    c.flushNow();
    c.native.closeAll(true);
    c.dispatchPending();
  }
  const deadline = Date.now() + timeout;
  const open = (): number => cores.reduce((n, c) => n + c.countConnections(), 0);
  while (open() > 0 && Date.now() < deadline) await new Promise<void>((r) => setTimeout(r, 5));
  for (const c of cores) {
    c.native.closeAll(false);
    c.dispatchPending();
    c.native.close();
    c.rejectDials(makeError('ECANCELED', 'ringnet: dial cancelled: the engine stopped'));
  }
}

/** Run the handler's onTick on this thread until stopped. Returns the stopper. @internal */
export function startTicker(core: LoopCore, shutdown: () => void): () => void {
  const h = core.handler;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  if (!h.onTick) return () => undefined;
  const tick = (): void => {
    if (stopped) return;
    let r: TickResult | void = undefined;
    try {
      r = h.onTick!();
    } catch (e) {
      process.emitWarning(e as Error);
    }
    if (r && r.action === Action.Shutdown) {
      shutdown();
      return;
    }
    const delay = r && Number.isFinite(r.delay) && r.delay >= 0 ? r.delay : 1000;
    timer = setTimeout(tick, delay);
  };
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * Connection count and stats of loops living on any threads, by their native ids,
 * read without stopping them. @internal
 */
export function remoteCounters(ids: readonly number[]): Pick<EngineImpl, 'count' | 'stats'> {
  return {
    count: () => ids.reduce((n, id) => n + Math.max(0, addon.loopCount(id)), 0),
    stats: () =>
      ids.map((id) => {
        const buf = new Float64Array(STAT_NAMES.length);
        addon.loopStats(id, buf);
        return statsOf(buf);
      }),
  };
}
