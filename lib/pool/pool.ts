/**
 * WorkerPool: ants' pool semantics on worker_threads, with task dispatch through shared
 * memory. See ARCHITECTURE.md, "The worker pool".
 */
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { threadId } from 'worker_threads';
import { newClientBlock } from './block';
import { PoolClient, type ClientTransport } from './client';
import { describeValue, invalidArg, poolError, unknownKey } from './errors';
import {
  F_DISABLE_PURGE,
  F_NONBLOCKING,
  LAYOUT_VERSION,
  MAGIC,
  P_CAP,
  P_EXPIRY_MS,
  P_FLAGS,
  P_MAGIC,
  P_MAX_BLOCKING,
  P_MAX_WORKERS,
  P_NEXT_CLIENT,
  P_SQ_CAP,
  P_SQ_HEAD,
  P_SQ_TAIL,
  P_VERSION,
  P_WORKERS,
  poolBlockWords,
  pow2,
  sqBase,
  W_STATE,
  W_STRIDE,
  WS_STARTING,
} from './layout';
import { Owner } from './owner';
import { Ring } from './ring';
import { attachPool, type AttachedPool } from './remote';
import type { PoolHandle, SubmitOptions, WorkerPoolOptions } from './types';

/** Upper bound of `size` / `tune()` unless a larger initial size raises it. */
export const MAX_POOL_SIZE = 256;

let poolCounter = 0;

function positiveInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidArg(`${name} must be an integer in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return v;
}

/** Every option a WorkerPool knows (MultiPool adds pools and strategy): others are rejected. */
const KNOWN_OPTIONS: readonly (keyof WorkerPoolOptions)[] = [
  'size', 'expiry', 'disablePurge', 'preAlloc', 'nonblocking', 'maxBlockingTasks', 'onPanic', 'resourceLimits',
  'workerData', 'env', 'execArgv', 'slots', 'slotBytes', 'queueSize',
];

function taskUrl(filename: string | URL): string {
  if (filename instanceof URL) return filename.href;
  if (typeof filename !== 'string' || filename.length === 0) {
    throw invalidArg('filename must be a path or a file: URL of the task module');
  }
  if (filename.startsWith('file:')) return filename;
  return pathToFileURL(path.resolve(filename)).href;
}

/**
 * A fixed-capacity pool of worker threads that run a task module (ants' `Pool`).
 *
 * ```ts
 * const pool = new WorkerPool(require.resolve('./hash-task'), { size: 4 });
 * const digest = await pool.submit(Buffer.from('secret'));
 * await pool.release();
 * ```
 *
 * The module's default export (or the export named per task with `{ name }`) is called
 * with the submitted argument; its return value (or what its promise resolves to) is
 * the result. Each worker runs one task at a time, so at most `size` tasks run at once.
 *
 * Arguments and results of common types up to `slotBytes` travel through shared memory
 * without a postMessage; others are structured-cloned by message.
 */
export class WorkerPool {
  readonly #owner: Owner;
  readonly #client: PoolClient;
  readonly #options: WorkerPoolOptions;
  readonly #sab: SharedArrayBuffer;
  readonly #channel: string;
  readonly #slotBytes: number;
  readonly #maxWorkers: number;

  /**
   * @param filename Task module: an absolute or cwd-relative path, or a file: URL
   *   (CommonJS or ESM).
   * @param options See {@link WorkerPoolOptions}.
   */
  constructor(filename: string | URL, options: WorkerPoolOptions = {}) {
    const url = taskUrl(filename);
    const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    if (options === null || typeof options !== 'object') throw invalidArg(`options must be an object, got ${describeValue(options)}`);
    const extra = unknownKey(options, KNOWN_OPTIONS);
    if (extra !== undefined) throw invalidArg(`unknown option '${extra}' (known: ${KNOWN_OPTIONS.join(', ')})`);
    const size = positiveInt('size', options.size ?? cpus, 1, Math.max(MAX_POOL_SIZE, typeof options.size === 'number' ? options.size : 0));
    const expiry = positiveInt('expiry', options.expiry ?? 1000, 1, 0x7fffffff);
    const maxBlocking = positiveInt('maxBlockingTasks', options.maxBlockingTasks ?? 0, 0, 0x3fffffff);
    const slots = positiveInt('slots', options.slots ?? 512, 1, 0xffff);
    const slotBytes = positiveInt('slotBytes', options.slotBytes ?? 1024, 16, 1 << 24);
    const sqCap = pow2(positiveInt('queueSize', options.queueSize ?? 4096, 2, 1 << 24));
    if (options.onPanic !== undefined && typeof options.onPanic !== 'function') {
      throw invalidArg('onPanic must be a function');
    }
    this.#options = { ...options };
    this.#maxWorkers = Math.max(MAX_POOL_SIZE, size);
    this.#slotBytes = slotBytes;

    this.#sab = new SharedArrayBuffer(poolBlockWords(this.#maxWorkers, sqCap) * 4);
    const p = new Int32Array(this.#sab);
    p[P_MAGIC] = MAGIC;
    p[P_VERSION] = LAYOUT_VERSION;
    p[P_CAP] = size;
    p[P_FLAGS] = (options.nonblocking ? F_NONBLOCKING : 0) | (options.disablePurge ? F_DISABLE_PURGE : 0);
    p[P_MAX_BLOCKING] = maxBlocking;
    p[P_EXPIRY_MS] = expiry;
    p[P_SQ_CAP] = sqCap;
    p[P_MAX_WORKERS] = this.#maxWorkers;
    p[P_NEXT_CLIENT] = 1;
    Ring.init(p, P_SQ_HEAD, P_SQ_TAIL, sqBase(this.#maxWorkers), sqCap);

    this.#channel = `ringnet.pool/${process.pid}/${threadId}/${++poolCounter}/${Math.random().toString(36).slice(2)}`;
    const { info, block } = newClientBlock(0, slots, slotBytes);
    this.#owner = new Owner(this.#sab, this.#channel, url, this.#options, (i, s, tag, v) => this.#client.deliver(i, s, tag, v));
    this.#owner.addClient(info, undefined);
    const owner = this.#owner;
    const transport: ClientTransport = {
      wantWorkers: () => owner.ensureWorkers(),
      kill: (w, key, seq) => owner.kill(w, key, seq),
      stash: (key, seq, v, transfer) => owner.stashArg(key, seq, v, transfer),
      drop: (key, seq) => owner.dropArg(key, seq),
    };
    this.#client = new PoolClient(this.#sab, block, 0, transport, options.onPanic);
    if (options.preAlloc) this.#owner.ensureWorkers(true);
  }

  /**
   * Run a task: resolves with what the task function returns, rejects with what it
   * throws (then `onPanic` is called; the worker survives), or with an `Error` whose
   * `code` is `ERR_POOL_OVERLOAD` (nonblocking / maxBlockingTasks), `ERR_POOL_CLOSED`,
   * `ERR_POOL_TIMEOUT`, `ABORT_ERR` or `ERR_POOL_WORKER_EXIT` (the worker died: crash,
   * `process.exit`, out of memory; it is replaced).
   */
  submit<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#client.submit<R>(arg, options);
  }

  /** Alias of {@link submit} (piscina's name). */
  run<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#client.submit<R>(arg, options);
  }

  /**
   * Change the capacity at run time (ants' `Tune`). Growing starts workers for tasks
   * that wait; shrinking lets surplus workers finish their task and exit.
   */
  tune(size: number): void {
    positiveInt('size', size, 1, this.#maxWorkers);
    const p = this.#owner.pool;
    const before = Atomics.exchange(p, P_CAP, size);
    if (size > before) this.#owner.ensureWorkers();
    else if (size < before) this.#owner.wakeAllWorkers();
  }

  /**
   * Close the pool (ants' `Release`): submits reject with `ERR_POOL_CLOSED`, tasks still
   * waiting for a worker reject with it too, running tasks finish and settle normally,
   * then the workers exit. Resolves when they have.
   */
  release(): Promise<void> {
    this.#owner.close();
    this.#client.failUnsent();
    return this.#owner.whenAllExited();
  }

  /**
   * {@link release}, then wait at most `ms` for running tasks (ants' `ReleaseTimeout`).
   * If they outlast it, their workers are terminated, the tasks reject with
   * `ERR_POOL_CLOSED`, and this rejects with `ERR_POOL_TIMEOUT`.
   */
  async releaseTimeout(ms: number): Promise<void> {
    positiveInt('ms', ms, 0, 0x7fffffff);
    const exited = this.release();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, ms, true);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    const left = this.#owner.threadCount;
    this.#owner.terminateAll();
    await this.#owner.whenAllExited();
    throw poolError('ERR_POOL_TIMEOUT', `ringnet pool: releaseTimeout(${ms}): ${left} worker(s) still running tasks were terminated`);
  }

  /** Close the pool and terminate every worker now; running tasks reject with `ERR_POOL_CLOSED`. */
  async terminate(): Promise<void> {
    this.#owner.close();
    this.#client.failUnsent();
    this.#owner.terminateAll();
    await this.#owner.whenAllExited();
  }

  /** Reopen a released pool (ants' `Reboot`); with `preAlloc`, start its workers again. */
  reboot(): void {
    if (!this.#owner.closed) return;
    this.#owner.reopen();
    if (this.#options.preAlloc) this.#owner.ensureWorkers(true);
  }

  /** Resolves once every worker started so far has loaded the task module. */
  async ready(): Promise<void> {
    const p = this.#owner.pool;
    for (;;) {
      let starting = false;
      for (let w = 0; w < this.#maxWorkers; w++) {
        if (Atomics.load(p, P_WORKERS + w * W_STRIDE + W_STATE) === WS_STARTING) starting = true;
      }
      if (!starting) return;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Capacity (ants' `Cap`). */
  get cap(): number {
    return this.#client.stats.cap;
  }

  /**
   * Tasks running now. (ants' `Running` counts live workers, busy or idle; that is
   * {@link workers} here.)
   */
  get running(): number {
    return this.#client.stats.running;
  }

  /** `cap - running` (ants' `Free`). */
  get free(): number {
    return this.#client.stats.free;
  }

  /** Tasks admitted and waiting for a worker (ants' `Waiting`). */
  get waiting(): number {
    return this.#client.stats.waiting;
  }

  /** Tasks admitted and not finished: `running + waiting`, read with one atomic load. */
  get pending(): number {
    return this.#client.stats.pending;
  }

  /** Worker threads alive, idle or busy. */
  get workers(): number {
    return this.#owner.threadCount;
  }

  /** Thread ids of the live workers. */
  get threadIds(): number[] {
    return this.#owner.threadIds;
  }

  /** True after {@link release} / {@link terminate} until {@link reboot}. */
  get isClosed(): boolean {
    return this.#owner.closed;
  }

  /**
   * Plain data that names this pool across threads: send it to another thread (in
   * `workerData` or by `postMessage`, as often as needed) and call
   * {@link WorkerPool.attach} there to submit to this same pool. The owner thread (this
   * one) must keep running its event loop: it starts workers and relays by-message
   * values for attached clients.
   */
  get handle(): PoolHandle {
    return { kind: 'ringnet.pool', version: LAYOUT_VERSION, sab: this.#sab, channel: this.#channel, slotBytes: this.#slotBytes };
  }

  /**
   * Connect to a pool created on another thread, from its {@link WorkerPool.handle}.
   * The client submits through the same shared queue (safe with any number of threads
   * submitting at once) under the pool's capacity and options.
   */
  static attach(handle: PoolHandle, options?: import('./types').AttachOptions): AttachedPool {
    return attachPool(handle, options);
  }
}

export { type AttachedPool };
