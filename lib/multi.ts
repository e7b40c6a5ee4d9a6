// N loops: each on its own worker thread (its own isolate and libuv loop), fed by
// a native main reactor thread, or each with its own SO_REUSEPORT listener.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { addon, NativeAcceptor } from './native';
import { Engine, EngineImpl, LoopInfo, remoteCounters } from './engine';
import { moduleHref } from './handler-module';
import type { ResolvedOptions } from './options';
import type { SocketAddress } from './conn';
import { makeError } from './errors';
import type { WorkerInit, FromWorker, ToWorker } from './loop-worker';

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
        const info: LoopInfo = { index: init.index, id: m.id, cpu: m.cpu, threadId: m.threadId, backend: m.backend };
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

/** @internal */
export async function serveMulti(handler: string | URL, targets: { host: string; port: number }[], opts: ResolvedOptions): Promise<Engine> {
  // The module is loaded only on the loop threads: loading it here too would run
  // its side effects on the main thread. A loop that cannot load it reports why.
  const href = moduleHref(handler);
  const workers: Worker[] = [];
  let acceptor: NativeAcceptor | null = null;
  let started: Started[] = [];
  let bound: SocketAddress[] = [];
  const init = (index: number, listen: { host: string; port: number }[] | null): WorkerInit => ({ index, handler: href, options: opts, listen });
  try {
    if (opts.reusePort) {
      // The first loop binds (port 0 becomes a real port); the others join it.
      const first = await startWorker(init(0, targets), workers);
      bound = first.bound;
      const same = bound.map((a) => ({ host: a.address, port: a.port }));
      const rest = await Promise.allSettled(Array.from({ length: opts.loops - 1 }, (_, i) => startWorker(init(i + 1, same), workers)));
      const failed = rest.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      started = [first, ...rest.map((r) => (r as PromiseFulfilledResult<Started>).value)];
    } else {
      acceptor = new addon.Acceptor(BALANCE[opts.loadBalancing]);
      for (const t of targets) {
        bound.push(acceptor.listen(t.host, t.port, { reuseAddr: opts.reuseAddr, reusePort: false, backlog: opts.backlog }));
      }
      const all = await Promise.allSettled(Array.from({ length: opts.loops }, (_, i) => startWorker(init(i, null), workers)));
      const failed = all.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      started = all.map((r) => (r as PromiseFulfilledResult<Started>).value);
      acceptor.start(started.map((s) => s.info.id));
    }
  } catch (e) {
    acceptor?.close();
    await terminateAll(workers);
    throw e;
  }

  const infos = started.map((s) => s.info);
  const ids = infos.map((i) => i.id);
  const exited = started.map((s) => new Promise<void>((r) => s.worker.once('exit', () => r())));
  let engine: Engine;
  const impl: EngineImpl = {
    ...remoteCounters(ids),
    loops: () => infos.map((i) => ({ ...i })),
    stop: async (_e, timeout) => {
      acceptor?.close(); // joins the main reactor thread, closes its listeners
      acceptor = null;
      for (const s of started) s.worker.postMessage({ type: 'stop', timeout } satisfies ToWorker);
      // A loop that does not finish in time (a handler stuck in a loop) is terminated.
      const late = setTimeout(() => void terminateAll(started.map((s) => s.worker)), timeout + 5000);
      await Promise.all(exited);
      clearTimeout(late);
    },
  };
  engine = new Engine(bound, impl, opts.data);
  for (const s of started) {
    s.worker.on('message', (m: FromWorker) => {
      if (m.type === 'shutdown') engine.shutdown();
    });
    s.worker.on('error', (e) => process.emitWarning(`ringnet: loop ${s.info.index} failed: ${e.stack ?? e}`));
    s.worker.postMessage({ type: 'boot', addrs: bound, ids } satisfies ToWorker);
  }
  return engine;
}
