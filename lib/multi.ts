// N loops: each on its own worker thread (its own isolate and libuv loop), fed by
// a native main reactor thread, or each with its own SO_REUSEPORT listener.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { addon, NativeAcceptor } from './native';
import { Engine, EngineImpl, LoopInfo } from './engine';
import { statsOf } from './stats';
import type { LoopStats } from './stats';
import { STAT_NAMES } from './layout';
import { moduleHref } from './handler-module';
import type { ResolvedOptions } from './options';
import type { SocketAddress } from './conn';
import { loopFailed, makeError, RingnetError } from './errors';
import type { WorkerInit, FromWorker, ToWorker } from './loop-worker';
import { listenOpts, removeUnixFiles, UnixFile, unixFileOf } from './unix';
import { createServerContext, ticketKeys, TlsOptions } from './tls';
import { loopTlsOptions, SniHost } from './tls-sni';

const BALANCE = { roundRobin: 0, leastConnections: 1, sourceAddrHash: 2 } as const;

interface Started {
  worker: Worker;
  info: LoopInfo;
  bound: SocketAddress[];
}

function errorFrom(m: { code: string; message: string }): Error {
  return makeError(m.code, m.message);
}

function startWorker(init: WorkerInit, all: Worker[]): Promise<Started> {
  const worker = new Worker(path.join(__dirname, 'loop-worker.js'), { workerData: init });
  all.push(worker);
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker): void => {
      if (m.type === 'ready') {
        cleanup();
        const info: LoopInfo = { index: init.index, id: m.id, cpu: m.cpu, threadId: m.threadId, backend: m.backend, running: true };
        if (m.backendFallback !== undefined) info.backendFallback = m.backendFallback;
        resolve({ worker, info, bound: m.bound });
      } else if (m.type === 'error') {
        cleanup();
        reject(errorFrom(m));
      }
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(makeError('ERR_RINGNET_LOOP_EXIT', `ringnet: loop ${init.index} exited (code ${code}) before it was ready`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}

async function terminateAll(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
}

/** A failure is forgotten for the restart limit after this long. */
const RESTART_WINDOW_MS = 60_000;

/** One loop index: the worker running it now, or none while it is down. */
interface LoopSlot {
  info: LoopInfo;
  worker: Worker | undefined;
  /** Failure times within RESTART_WINDOW_MS. */
  failures: number[];
  /** Counters of the last loop at this index that is gone (failed or stopped). */
  last: LoopStats | undefined;
  restart: NodeJS.Timeout | undefined;
  starting: boolean;
}

function causeFrom(m: { name: string; message: string; stack?: string; code?: string }): Error {
  const e = new Error(m.message) as Error & { code?: string };
  e.name = m.name;
  if (m.stack !== undefined) e.stack = m.stack;
  if (m.code !== undefined) e.code = m.code;
  return e;
}

/** @internal */
export async function serveMulti(handler: string | URL, targets: { host: string; port: number; unix?: boolean; udp?: boolean; tls?: boolean }[], opts: ResolvedOptions): Promise<Engine> {
  if (opts.reusePort && targets.some((t) => t.unix)) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', 'ringnet: reusePort does not apply to unix:// listeners (a path is bound once): the main reactor hands their connections to the loops');
  }
  // The module is loaded only on the loop threads: loading it here too would run
  // its side effects on the main thread. A loop that cannot load it reports why.
  const href = moduleHref(handler);
  const workers: Worker[] = [];
  let acceptor: NativeAcceptor | null = null;
  let started: Started[] = [];
  let bound: SocketAddress[] = [];
  const files: UnixFile[] = [];
  // TLS: each loop builds its own context from the same options and ticket keys
  // (a ticket one loop issued resumes on another). Built here once first, so bad
  // options reject serve() before any thread starts.
  const anyTls = targets.some((t) => t.tls);
  // SNICallback stays here (a function cannot cross): the loops ask this thread (lib/tls-sni.ts).
  let tlsState: { options: TlsOptions; keys: Buffer } | undefined;
  let sni: SniHost | undefined;
  if (anyTls && opts.tls) {
    tlsState = { options: opts.tls, keys: ticketKeys(opts.tls.ticketKeys) };
    createServerContext(tlsState.options, tlsState.keys);
    sni = new SniHost(opts.tls);
  }
  // By the main reactor's listener index: it listens on the tcp/unix targets only.
  const acceptorTls = opts.reusePort ? [] : targets.filter((t) => !t.udp).flatMap((t, i) => (t.tls ? [i] : []));
  const init = (index: number, listen: { host: string; port: number; unix?: boolean; udp?: boolean; tls?: boolean }[] | null): WorkerInit => {
    const w: WorkerInit = { index, handler: href, options: { ...opts, tls: undefined }, listen };
    if (tlsState) w.tls = { options: loopTlsOptions(tlsState.options), keys: tlsState.keys, sni: typeof tlsState.options.SNICallback === 'function', acceptorListeners: acceptorTls };
    return w;
  };
  // udp:// targets: every loop opens its own SO_REUSEPORT socket (the kernel spreads
  // datagrams by 4-tuple); the first binds (port 0 becomes a real port), the others join.
  const udpTargets = targets.filter((t) => t.udp);
  let udpSame: { host: string; port: number; udp: boolean }[] = [];
  try {
    if (opts.reusePort) {
      // The first loop binds (port 0 becomes a real port); the others join it.
      const first = await startWorker(init(0, targets), workers);
      bound = first.bound;
      const same = bound.map((a, i) => (targets[i].udp ? { host: a.address, port: a.port, udp: true } : { host: a.address, port: a.port, tls: targets[i]?.tls === true }));
      const rest = await Promise.allSettled(Array.from({ length: opts.loops - 1 }, (_, i) => startWorker(init(i + 1, same), workers)));
      const failed = rest.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      started = [first, ...rest.map((r) => (r as PromiseFulfilledResult<Started>).value)];
    } else {
      acceptor = new addon.Acceptor(BALANCE[opts.loadBalancing]);
      const tcpBound: SocketAddress[] = [];
      for (const t of targets) {
        if (t.udp) continue;
        const b = acceptor.listen(t.host, t.port, listenOpts(t, { ...opts, reusePort: false }));
        tcpBound.push(b);
        const f = unixFileOf(b);
        if (f) files.push(f);
      }
      let first: Started | undefined;
      if (udpTargets.length > 0) {
        first = await startWorker(init(0, udpTargets), workers);
        udpSame = first.bound.map((a) => ({ host: a.address, port: a.port, udp: true }));
      }
      const all = await Promise.allSettled(
        Array.from({ length: opts.loops - (first ? 1 : 0) }, (_, i) => startWorker(init(i + (first ? 1 : 0), first ? udpSame : null), workers)),
      );
      const failed = all.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      started = [...(first ? [first] : []), ...all.map((r) => (r as PromiseFulfilledResult<Started>).value)];
      let ti = 0;
      let ui = 0;
      bound = targets.map((t) => (t.udp ? first!.bound[ui++] : tcpBound[ti++]));
      acceptor.start(started.map((s) => s.info.id));
    }
  } catch (e) {
    acceptor?.close();
    removeUnixFiles(files);
    await terminateAll(workers);
    throw e;
  }

  // A restarted loop listens where the first one bound (reusePort), or is fed by
  // the main reactor.
  const relisten = opts.reusePort
    ? bound.map((a, i) => (targets[i].udp ? { host: a.address, port: a.port, udp: true } : { host: a.address, port: a.port, tls: targets[i]?.tls === true }))
    : udpSame.length > 0 ? udpSame : null;
  const flags = targets.map((t) => (t.udp ? ('udp' as const) : t.tls === true));
  const slots: LoopSlot[] = started.map((s) => ({ info: s.info, worker: s.worker, failures: [], last: undefined, restart: undefined, starting: false }));
  const alive = new Set<Worker>(); // every worker not yet exited, running or not
  const exits = new Map<Worker, Promise<void>>();
  let stopping = false;
  let tlsAnswer = (_w: Worker, _m: { seq: number; error?: { code: string; message: string } }): void => undefined;
  let tlsGone = (_w: Worker): void => undefined;
  const runningIds = (): number[] => slots.filter((s) => s.info.running).map((s) => s.info.id);

  const readStats = (s: LoopSlot): LoopStats => {
    if (s.info.running) {
      const buf = new Float64Array(STAT_NAMES.length);
      if (addon.loopStats(s.info.id, buf) === 0) return (s.last = statsOf(buf));
    }
    return s.last ?? statsOf(new Float64Array(STAT_NAMES.length));
  };

  const impl: EngineImpl = {
    count: () => slots.reduce((n, s) => n + (s.info.running ? Math.max(0, addon.loopCount(s.info.id)) : 0), 0),
    stats: () => slots.map(readStats),
    loops: () => slots.map((s) => ({ ...s.info })),
    stop: async (_e, timeout) => {
      stopping = true;
      sni?.stop(); // an SNICallback answering later finds no loop to tell
      acceptor?.close(); // joins the main reactor thread, closes its listeners
      acceptor = null;
      removeUnixFiles(files);
      for (const s of slots) {
        if (s.restart) clearTimeout(s.restart);
        s.restart = undefined;
        if (s.info.running) readStats(s);
        s.worker?.postMessage({ type: 'stop', timeout } satisfies ToWorker);
      }
      // A loop that does not finish in time (a handler stuck in a loop) is terminated.
      const late = setTimeout(() => void terminateAll([...alive]), timeout + 5000);
      // Loops still starting (a restart under way) are stopped when they are ready.
      while (slots.some((s) => s.starting) || alive.size > 0) {
        await Promise.race([...exits.values(), new Promise<void>((r) => setTimeout(r, 20))]);
      }
      clearTimeout(late);
      for (const s of slots) s.info.running = false;
    },
  };
  if (tlsState) {
    // setSecureContext: checked here (throws, keeping the old context), then every
    // running loop builds the new one; resolves once they all use it. A loop
    // restarted later starts with the new options too.
    let seq = 0;
    const waiting = new Map<number, { left: Set<Worker>; resolve: () => void; reject: (e: Error) => void }>();
    impl.setSecureContext = (tls) => {
      const keys = tls.ticketKeys !== undefined ? ticketKeys(tls.ticketKeys) : tlsState!.keys;
      createServerContext(tls, keys);
      tlsState = { options: tls, keys };
      sni!.reload(tls);
      const id = ++seq;
      const live = slots.filter((s) => s.info.running && s.worker).map((s) => s.worker!);
      return new Promise<void>((resolve, reject) => {
        const w = { left: new Set(live), resolve, reject };
        waiting.set(id, w);
        const order: ToWorker = { type: 'tls', seq: id, options: loopTlsOptions(tls), keys, sni: typeof tls.SNICallback === 'function' };
        for (const wk of live) wk.postMessage(order);
        if (live.length === 0) {
          waiting.delete(id);
          resolve();
        }
      });
    };
    tlsAnswer = (worker, m) => {
      const w = waiting.get(m.seq);
      if (!w) return;
      if (m.error) {
        waiting.delete(m.seq);
        w.reject(makeError(m.error.code, m.error.message));
        return;
      }
      w.left.delete(worker);
      if (w.left.size === 0) {
        waiting.delete(m.seq);
        w.resolve();
      }
    };
    tlsGone = (worker) => {
      for (const [id, w] of waiting) {
        if (w.left.delete(worker) && w.left.size === 0) {
          waiting.delete(id);
          w.resolve();
        }
      }
    };
  }
  const engine = new Engine(bound, impl, opts.data, flags);

  const tellLoops = (): void => {
    const ids = runningIds();
    acceptor?.setLoops(ids);
    for (const s of slots) if (s.info.running) s.worker?.postMessage({ type: 'loops', ids } satisfies ToWorker);
  };

  const noLoopsLeft = (last: RingnetError): void => {
    if (stopping || slots.some((s) => s.info.running || s.restart !== undefined || s.starting)) return;
    const e = makeError('ERR_RINGNET_NO_LOOPS', `ringnet: every loop has failed and none is restarted (the last: ${last.message}); the engine stopped`) as RingnetError & { cause: unknown };
    e.cause = last;
    engine.fail(e);
  };

  // A loop thread failed: out of balancing, reported, restarted (rate-limited).
  const failed = (slot: LoopSlot, worker: Worker, cause: Error, stats?: number[]): void => {
    if (slot.worker !== worker || !slot.info.running) return; // reported once per worker
    slot.last = stats ? statsOf(stats) : readStats(slot);
    slot.info.running = false;
    slot.worker = undefined;
    if (stopping) return;
    tellLoops();
    const err = loopFailed(slot.info.index, cause);
    const now = Date.now();
    slot.failures = slot.failures.filter((t) => now - t < RESTART_WINDOW_MS);
    slot.failures.push(now);
    const restarting = slot.failures.length <= opts.loopRestarts;
    if (restarting) {
      // 100 ms, then 200, 400 … (at most 5 s) between restarts of the same loop.
      const delay = Math.min(5000, 100 * 2 ** (slot.failures.length - 1));
      slot.restart = setTimeout(() => restart(slot), delay);
    }
    if (engine.listenerCount('loopError') > 0) {
      engine.emit('loopError', err, { index: slot.info.index, id: slot.info.id, restarting, failures: slot.failures.length });
    } else {
      process.emitWarning(`${err.message}${restarting ? ' (restarting it)' : ''}\n${cause.stack ?? ''}`, { code: err.code });
    }
    if (!restarting) noLoopsLeft(err);
  };

  const attach = (slot: LoopSlot, worker: Worker): void => {
    alive.add(worker);
    sni?.attach(worker);
    exits.set(
      worker,
      new Promise<void>((r) =>
        worker.once('exit', (code) => {
          tlsGone(worker);
          sni?.gone(worker);
          alive.delete(worker);
          exits.delete(worker);
          failed(slot, worker, makeError('ERR_RINGNET_LOOP_EXIT', `loop thread exited (code ${code})`));
          r();
        }),
      ),
    );
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'shutdown') engine.shutdown();
      else if (m.type === 'tlsDone') tlsAnswer(worker, m);
      else if (m.type === 'sni') sni?.ask(worker, m);
      else if (m.type === 'died') failed(slot, worker, causeFrom(m.cause), m.stats);
      else if (m.type === 'final' && slot.worker === worker) slot.last = statsOf(m.stats);
    });
    worker.on('error', (e) => failed(slot, worker, e));
  };

  const restart = (slot: LoopSlot): void => {
    slot.restart = undefined;
    if (stopping) return;
    slot.starting = true;
    startWorker(init(slot.info.index, relisten), workers).then(
      (s) => {
        slot.starting = false;
        attach(slot, s.worker);
        slot.worker = s.worker;
        slot.info = s.info;
        if (stopping) {
          s.worker.postMessage({ type: 'stop', timeout: 0 } satisfies ToWorker);
          return;
        }
        s.worker.postMessage({ type: 'boot', addrs: bound, ids: runningIds(), flags } satisfies ToWorker);
        tellLoops();
      },
      (e: Error) => {
        slot.starting = false;
        const err = loopFailed(slot.info.index, e);
        const now = Date.now();
        slot.failures.push(now);
        if (!stopping && slot.failures.filter((t) => now - t < RESTART_WINDOW_MS).length <= opts.loopRestarts) {
          slot.restart = setTimeout(() => restart(slot), Math.min(5000, 100 * 2 ** (slot.failures.length - 1)));
        } else {
          process.emitWarning(`ringnet: loop ${slot.info.index} could not be restarted: ${e.message}`);
          noLoopsLeft(err);
        }
      },
    );
  };

  for (const s of started) {
    const slot = slots[s.info.index];
    attach(slot, s.worker);
    s.worker.postMessage({ type: 'boot', addrs: bound, ids: runningIds(), flags } satisfies ToWorker);
  }
  return engine;
}
