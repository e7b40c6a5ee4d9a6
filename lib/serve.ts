import { LoopCore } from './loop';
import { Action, EventHandler } from './handler';
import { parseAddr, resolveAddr } from './addr';
import { resolveOptions, ServeOptions } from './options';
import type { SocketAddress } from './conn';
import { makeError } from './errors';
import { Engine, EngineImpl, startTicker, stopCores } from './engine';
import { addon, NativeTlsContext } from './native';
import { checkHandler } from './handler-module';
import { dialOn } from './dial';
import { listenOpts, removeUnixFiles, UnixFile, unixFileOf } from './unix';
import { answerSni, createServerContext, ticketKeys, TlsConnectOptions, TlsOptions } from './tls';
import { UdpSocket } from './udp';

/** A handler given as a module: its default export is the handler object or class. */
export type HandlerModule = string | URL;

function isModuleRef(h: unknown): h is HandlerModule {
  return typeof h === 'string' || h instanceof URL;
}

/**
 * Start a server: listen on `addr` (`tcp://127.0.0.1:9000`, port 0 for any) or
 * several addresses, and call `handler` on the engine's event loop(s).
 *
 * With `loops: 1` (the default) the loop runs on this thread and `handler` is an
 * object. With `loops > 1` (or `multicore`) each loop runs on its own thread and
 * `handler` must be a module path or URL whose default export is the handler
 * object or class; each loop loads it once.
 *
 * Rejects with `code` = errno name (`EADDRINUSE`, `EACCES`) when a listener
 * cannot be opened, `ERR_RINGNET_INVALID_ADDR`, `ERR_RINGNET_INVALID_OPTION`, or
 * `ERR_RINGNET_INVALID_HANDLER`.
 */
export async function serve(handler: EventHandler | HandlerModule, addr: string | readonly string[], options: ServeOptions = {}): Promise<Engine> {
  const opts = resolveOptions(options);
  const list = typeof addr === 'string' ? [addr] : Array.isArray(addr) ? addr : [addr as unknown as string];
  if (list.length === 0) throw makeError('ERR_RINGNET_INVALID_ADDR', 'ringnet: no address to listen on');
  const targets = await Promise.all(list.map(async (a) => resolveAddr(parseAddr(a), a)));
  const anyTls = targets.some((t) => t.tls);
  if (anyTls && opts.tls === undefined) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', 'ringnet: a tls:// address needs the tls option ({ cert, key, … })');
  }
  if (!anyTls && opts.tls !== undefined) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', 'ringnet: the tls option applies to tls:// addresses, and none was given');
  }
  if (opts.loops > 1) {
    if (!isModuleRef(handler)) {
      throw makeError(
        'ERR_RINGNET_INVALID_HANDLER',
        `ringnet: with loops: ${opts.loops} each loop runs on its own thread, so the handler must be a module path or URL whose default export is the handler`,
      );
    }
    const { serveMulti } = await import('./multi');
    return serveMulti(handler, targets, opts);
  }
  const h = isModuleRef(handler) ? await (await import('./handler-module')).loadHandler(handler) : handler;
  if (h === null || typeof h !== 'object') {
    throw makeError('ERR_RINGNET_INVALID_HANDLER', 'ringnet: handler must be an object with onOpen/onTraffic/… methods, or a module path');
  }
  checkHandler(h);
  return startOneLoop(h, targets, opts);
}

type Target = Awaited<ReturnType<typeof resolveAddr>>;
type ResolvedOptions = ReturnType<typeof resolveOptions>;

/**
 * One loop on this thread listening on `targets` (none: a client engine, see
 * createClient): serve()'s `loops: 1` path. @internal
 */
export async function startOneLoop(h: EventHandler, targets: readonly Target[], opts: ResolvedOptions, dialTls?: TlsConnectOptions): Promise<Engine> {
  const anyTls = targets.some((t) => t.tls);
  let engine: Engine | undefined;
  const core = new LoopCore(opts, h, 0, { shutdown: () => engine?.shutdown() });
  const bound: SocketAddress[] = [];
  const files: UnixFile[] = [];
  const tlsListeners: number[] = [];
  const udps: UdpSocket[] = [];
  const flags: (boolean | 'udp')[] = [];
  let cpu = -1;
  // Certificates are checked before anything listens: a bad PEM rejects serve().
  // One set of ticket keys for the engine's life: tickets survive setSecureContext.
  let keys = anyTls && opts.tls ? ticketKeys(opts.tls.ticketKeys) : undefined;
  let ctx: NativeTlsContext | undefined = anyTls && opts.tls ? createServerContext(opts.tls, keys) : undefined;
  let tlsNow: TlsOptions | undefined = opts.tls;
  // Contexts built from SNICallback answers: merged over tlsNow, so a reload drops them.
  let sniCache = new WeakMap<object, NativeTlsContext>();
  if (anyTls) core.onSni = (slot, gen) => answerSni(core, slot, gen, tlsNow, keys, sniCache);
  try {
    for (const t of targets) {
      if (t.udp) {
        const u = new UdpSocket(core.native, t.host, t.port, opts.udp, false, h, () => engine?.shutdown());
        udps.push(u);
        bound.push(u.address);
        flags.push('udp');
        continue;
      }
      flags.push(t.tls);
      const b = core.native.listen(t.host, t.port, listenOpts(t, opts), t.tls ? ctx : undefined);
      if (t.tls) tlsListeners.push(b.id);
      const sa: SocketAddress = { family: b.family, address: b.address, port: b.port };
      bound.push(sa);
      const f = unixFileOf(sa);
      if (f) files.push(f);
    }
    if (opts.pin) cpu = Math.max(-1, addon.pinThread(0)); // -errno: not pinned (macOS has no hard affinity)
    core.native.start();
  } catch (e) {
    for (const u of udps) u.close();
    core.native.close();
    removeUnixFiles(files);
    throw e;
  }
  let stopTicker = (): void => undefined;
  const impl: EngineImpl = {
    count: () => core.countConnections(),
    stats: () => [core.readStats()],
    loops: () => [{ index: 0, id: core.native.id, cpu, threadId: addon.threadId(), ...core.backendInfo(), running: engine?.stopped !== true }],
    stop: async (e, timeout) => {
      stopTicker();
      try {
        await stopCores([core], e, timeout);
      } finally {
        for (const u of udps) u.close();
        removeUnixFiles(files);
      }
    },
    dial: (a, o) => dialOn(core, a, o, dialTls),
    udp: () => udps,
  };
  if (anyTls) {
    impl.setSecureContext = (tls) => {
      const nextKeys = tls.ticketKeys !== undefined ? ticketKeys(tls.ticketKeys) : keys;
      const next = createServerContext(tls, nextKeys); // throws, keeping the old one, on bad options
      for (const id of tlsListeners) core.native.setTls(id, next);
      ctx = next;
      keys = nextKeys;
      tlsNow = tls;
      sniCache = new WeakMap();
    };
  }
  engine = new Engine(bound, impl, opts.data, flags);
  try {
    if (h.onBoot?.(engine) === Action.Shutdown) engine.shutdown();
  } catch (e) {
    await engine.stop();
    throw e;
  }
  if (opts.ticker) stopTicker = startTicker(core, () => engine?.shutdown());
  return engine;
}
