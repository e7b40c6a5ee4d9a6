// A loop thread: loads the handler module, runs one native loop on this thread's
// libuv loop, and takes boot/stop orders from the engine on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { addon } from './native';
import { LoopCore } from './loop';
import { Action } from './handler';
import { Engine, EngineImpl, remoteCounters, startTicker, stopCores } from './engine';
import { loopFailed } from './errors';
import { loadHandler } from './handler-module';
import { dialOn } from './dial';
import { listenOpts } from './unix';
import { UdpSocket } from './udp';
import type { ResolvedOptions } from './options';
import { createServerContext, TlsOptions } from './tls';
import type { NativeTlsContext } from './native';
import { SniAsk, SniClient, SniForget, SniReply } from './tls-sni';
import type { SocketAddress } from './conn';

/** @internal */
export interface WorkerInit {
  index: number;
  handler: string;
  options: ResolvedOptions;
  /** reusePort: listen here on these addresses; null: sockets come from the main reactor */
  listen: { host: string; port: number; unix?: boolean; udp?: boolean; tls?: boolean }[] | null;
  /**
   * TLS: the options (plain data: PEM strings and Buffers cross threads; no
   * SNICallback) and the engine's ticket keys, from which this loop builds its own
   * native context; sni: the options have an SNICallback, which this loop asks on
   * the main thread (lib/tls-sni.ts); and, with a main reactor, which of its
   * listeners (by index) speak TLS.
   */
  tls?: { options: TlsOptions; keys: Uint8Array; sni: boolean; acceptorListeners: number[] };
}

/** @internal */
export type FromWorker =
  | { type: 'ready'; id: number; cpu: number; threadId: number; bound: SocketAddress[]; backend: string; backendFallback?: string }
  | { type: 'error'; code: string; message: string }
  | { type: 'shutdown' }
  /** An uncaught exception or unhandled rejection: the loop closed everything and exits. */
  | { type: 'died'; cause: { name: string; message: string; stack?: string; code?: string }; stats: number[] }
  /** Stopped: the loop's last counters, sent before the thread exits. */
  | { type: 'final'; stats: number[] }
  /** A 'tls' order was applied (error: the context could not be built here). */
  | { type: 'tlsDone'; seq: number; error?: { code: string; message: string } }
  /** A handshake of this loop waits for the SNICallback's answer (a 'sni' order). */
  | SniAsk;

/** @internal */
export type ToWorker =
  | { type: 'boot'; addrs: SocketAddress[]; ids: number[]; flags?: (boolean | 'udp')[] }
  | { type: 'stop'; timeout: number }
  /** The engine's running loops changed (one failed, or was restarted). */
  | { type: 'loops'; ids: number[] }
  /** setSecureContext: new TLS options (sni: with an SNICallback) for every TLS listener of this loop. */
  | { type: 'tls'; seq: number; options: TlsOptions; keys: Uint8Array; sni: boolean }
  /** The SNICallback's answer for one handshake of this loop. */
  | SniReply
  /** Answers the main thread forgot: their contexts go. */
  | SniForget;

function describe(e: unknown): { name: string; message: string; stack?: string; code?: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, message: e.message, stack: e.stack, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: `a non-Error was thrown: ${String(e)}` };
}

function fail(e: unknown): void {
  const err = e as Error & { code?: string };
  parentPort!.postMessage({ type: 'error', code: err.code ?? 'ERR_RINGNET_LOOP', message: err.message } satisfies FromWorker);
}

async function main(): Promise<void> {
  if (!parentPort) return;
  const port = parentPort;
  const init = workerData as WorkerInit;
  const opts = init.options;
  let handler;
  try {
    handler = await loadHandler(init.handler);
  } catch (e) {
    return fail(e);
  }
  const askShutdown = (): void => port.postMessage({ type: 'shutdown' } satisfies FromWorker);
  let core: LoopCore;
  const bound: SocketAddress[] = [];
  const udps: UdpSocket[] = [];
  let cpu = -1;
  try {
    core = new LoopCore(opts, handler, init.index, { shutdown: askShutdown });
  } catch (e) {
    return fail(e);
  }
  // TLS: this loop's own context, from the same options as every other loop's.
  const tlsIds: number[] = [];
  const sni = init.tls ? new SniClient(core, (m) => port.postMessage(m satisfies FromWorker), init.tls.options, init.tls.keys) : undefined;
  if (sni) core.onSni = (slot, gen) => sni.ask(slot, gen);
  const applyTls = (o: TlsOptions, keys: Uint8Array, sniAsync: boolean): void => {
    const ctx: NativeTlsContext = createServerContext(o, keys, sniAsync);
    for (const id of tlsIds) core.native.setTls(id, ctx);
    sni?.reload(o, keys); // contexts of earlier answers were merged over the old options
  };
  try {
    const ctx = init.tls ? createServerContext(init.tls.options, init.tls.keys, init.tls.sni) : undefined;
    for (const t of init.listen ?? []) {
      if (t.udp) {
        const u = new UdpSocket(core.native, t.host, t.port, opts.udp, true, handler, askShutdown);
        udps.push(u);
        bound.push(u.address);
        continue;
      }
      const b = core.native.listen(t.host, t.port, listenOpts(t, { ...opts, reusePort: true }), t.tls ? ctx : undefined);
      if (t.tls) tlsIds.push(b.id);
      bound.push(b);
    }
    for (const i of init.tls?.acceptorListeners ?? []) {
      core.native.setTls(-1 - i, ctx ?? null); // connections the main reactor hands over from its listener i
      tlsIds.push(-1 - i);
    }
    if (opts.pin) cpu = Math.max(-1, addon.pinThread(init.index)); // -errno: not pinned (macOS has no hard affinity)
    core.native.start();
  } catch (e) {
    for (const u of udps) u.close();
    core.native.close();
    return fail(e);
  }
  let view: Engine | undefined;
  let stopTicker = (): void => undefined;
  let ids: number[] = [];

  // Issue 8, item 2: an exception or rejection that escapes the handler module on
  // this thread (a timer, an event listener, a promise nobody awaits) fails the
  // loop as an engine event, not silently: refuse new connections at once (the
  // main reactor passes this loop by; a reusePort listener closes), reset every
  // connection with the error (onClose gets it), tell the engine, exit.
  let dead = false;
  const die = (cause: unknown): void => {
    if (dead) return;
    dead = true;
    const why = describe(cause);
    let stats: number[] = [];
    try {
      core.native.closeTasks();
      core.native.unlisten();
      for (const u of udps) u.close();
      stopTicker();
      core.failAll(loopFailed(init.index, why));
      stats = Array.from(core.stats);
      core.native.close();
    } finally {
      port.postMessage({ type: 'died', cause: why, stats } satisfies FromWorker);
      process.exit(1);
    }
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);

  port.postMessage({ type: 'ready', id: core.native.id, cpu, threadId: addon.threadId(), bound, ...core.backendInfo() } satisfies FromWorker);

  port.on('message', (m: ToWorker) => {
    if (m.type === 'loops') {
      ids = m.ids;
    } else if (m.type === 'sni') {
      sni?.answered(m);
    } else if (m.type === 'sniForget') {
      sni?.forget(m.ids);
    } else if (m.type === 'tls') {
      try {
        applyTls(m.options, m.keys, m.sni);
        port.postMessage({ type: 'tlsDone', seq: m.seq } satisfies FromWorker);
      } catch (e) {
        const err = e as Error & { code?: string };
        port.postMessage({ type: 'tlsDone', seq: m.seq, error: { code: err.code ?? 'ERR_RINGNET_TLS', message: err.message } } satisfies FromWorker);
      }
    } else if (m.type === 'boot') {
      ids = m.ids;
      const impl: EngineImpl = {
        count: () => remoteCounters(ids).count(),
        stats: () => remoteCounters(ids).stats(),
        loops: () => [],
        stop: async () => askShutdown(),
        dial: (a, o) => dialOn(core, a, o),
        udp: () => udps,
      };
      view = new Engine(m.addrs, impl, opts.data, m.flags);
      try {
        if (handler.onBoot?.(view) === Action.Shutdown) askShutdown();
      } catch (e) {
        process.emitWarning(e as Error);
      }
      if (opts.ticker) stopTicker = startTicker(core, askShutdown);
    } else if (m.type === 'stop') {
      stopTicker();
      const engine = view ?? new Engine(bound.length ? bound : [{ family: 'IPv4', address: '0.0.0.0', port: 0 }], {
        count: () => 0, stats: () => [], loops: () => [], stop: async () => undefined,
      });
      stopCores([core], engine, m.timeout).then(
        () => {
          port.postMessage({ type: 'final', stats: Array.from(core.stats) } satisfies FromWorker);
          process.exit(0);
        },
        (e) => {
          process.emitWarning(e as Error);
          process.exit(1);
        },
      );
    }
  });
}

void main();
