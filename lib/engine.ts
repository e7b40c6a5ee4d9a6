import { LoopCore, LoopStats } from './loop';
import { Action, EventHandler, TickResult } from './handler';
import { formatAddr, parseAddr, resolveAddr } from './addr';
import { ResolvedOptions, resolveOptions, ServeOptions } from './options';
import type { SocketAddress } from './conn';
import { makeError } from './errors';

/** Options of {@link Engine.stop}. */
export interface StopOptions {
  /** ms to let connections flush their outbound bytes before they are closed regardless (default 5000). */
  timeout?: number;
}

/**
 * A running server: its listeners and event loops. Made by {@link serve}.
 */
export class Engine {
  /** The first listener's address, e.g. `tcp://127.0.0.1:41234` (the real port when 0 was asked for). */
  readonly addr: string;
  /** Every listener's address. */
  readonly addrs: readonly string[];
  /** The first listener's address as an object. */
  readonly address: SocketAddress;
  /** @internal */ readonly cores: LoopCore[] = [];
  /** @internal */ readonly options: ResolvedOptions;
  private stopping: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;

  /** @internal */
  constructor(options: ResolvedOptions, addrs: SocketAddress[]) {
    this.options = options;
    this.address = addrs[0];
    this.addrs = addrs.map((a) => formatAddr(a.address, a.port));
    this.addr = this.addrs[0];
  }

  /** Open connections across all loops. */
  countConnections(): number {
    let n = 0;
    for (const c of this.cores) n += c.countConnections();
    return n;
  }

  /** Per-loop counters (connections, bytes, read/write syscalls, batches…), read without stopping the loops. */
  stats(): LoopStats[] {
    return this.cores.map((c) => c.readStats());
  }

  /** Whether {@link stop} has been called. */
  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Stop gracefully: stop accepting, call `onShutdown`, let connections flush
   * their outbound bytes (closing each when drained, or all at `timeout`), free
   * every fd. Resolves when all of that is done; calling it again returns the
   * same promise.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(opts.timeout ?? 5000);
    return this.stopping;
  }

  /** @internal used by Action.Shutdown */
  shutdown(): void {
    this.stop().catch((e) => process.emitWarning(e));
  }

  private async doStop(timeout: number): Promise<void> {
    // Never tear down inside a handler's batch: let it finish first.
    await new Promise<void>((r) => setImmediate(r));
    if (this.tickTimer) clearTimeout(this.tickTimer);
    for (const c of this.cores) c.native.unlisten();
    for (const c of this.cores) {
      try {
        c.handler.onShutdown?.(this);
      } catch (e) {
        process.emitWarning(e as Error);
      }
    }
    for (const c of this.cores) {
      c.flushNow();
      c.native.closeAll(true);
      c.dispatchPending();
    }
    const deadline = Date.now() + timeout;
    while (this.countConnections() > 0 && Date.now() < deadline) {
      await new Promise<void>((r) => setTimeout(r, 5));
    }
    for (const c of this.cores) {
      c.native.closeAll(false);
      c.dispatchPending();
      c.native.close();
    }
  }

  /** @internal */
  startTicker(core: LoopCore): void {
    const h = core.handler;
    if (!h.onTick) return;
    const tick = (): void => {
      if (this.stopping) return;
      let r: TickResult | void = undefined;
      try {
        r = h.onTick!();
      } catch (e) {
        process.emitWarning(e as Error);
      }
      if (r && r.action === Action.Shutdown) {
        this.shutdown();
        return;
      }
      const delay = r && Number.isFinite(r.delay) && r.delay >= 0 ? r.delay : 1000;
      this.tickTimer = setTimeout(tick, delay);
    };
    this.tickTimer = setTimeout(tick, 0);
  }
}

function checkHandler(handler: unknown): EventHandler {
  if (handler === null || typeof handler !== 'object') {
    throw makeError('ERR_RINGNET_INVALID_HANDLER', 'ringnet: handler must be an object with onOpen/onTraffic/… methods');
  }
  return handler as EventHandler;
}

/**
 * Start a server: listen on `addr` (`tcp://127.0.0.1:9000`, port 0 for any) or
 * several addresses, and call `handler` on the engine's event loop(s).
 * Rejects with `code` = errno name (`EADDRINUSE`, `EACCES`) when a listener
 * cannot be opened, or `ERR_RINGNET_INVALID_ADDR` / `ERR_RINGNET_INVALID_OPTION`.
 */
export async function serve(handler: EventHandler, addr: string | readonly string[], options: ServeOptions = {}): Promise<Engine> {
  const h = checkHandler(handler);
  const opts = resolveOptions(options);
  const list = typeof addr === 'string' ? [addr] : Array.isArray(addr) ? addr : [addr as unknown as string];
  if (list.length === 0) throw makeError('ERR_RINGNET_INVALID_ADDR', 'ringnet: no address to listen on');
  const targets = await Promise.all(list.map(async (a) => resolveAddr(parseAddr(a), a)));
  if (opts.loops > 1) {
    const { serveMulti } = await import('./multi');
    return serveMulti(h, targets, opts);
  }
  let engine: Engine | undefined;
  const owner = { shutdown: () => engine?.shutdown() };
  const core = new LoopCore(opts, h, 0, owner);
  const bound: SocketAddress[] = [];
  try {
    for (const t of targets) {
      bound.push(core.native.listen(t.host, t.port, { reuseAddr: opts.reuseAddr, reusePort: opts.reusePort, backlog: opts.backlog }));
    }
    core.native.start();
  } catch (e) {
    core.native.close();
    throw e;
  }
  engine = new Engine(opts, bound);
  engine.cores.push(core);
  try {
    if (h.onBoot?.(engine) === Action.Shutdown) engine.shutdown();
  } catch (e) {
    await engine.stop();
    throw e;
  }
  if (opts.ticker) engine.startTicker(core);
  return engine;
}
