/**
 * Public option and handle types of the worker pool.
 */
import type { ResourceLimits, Transferable } from 'worker_threads';

/** What a task module's function receives as its context (none today; reserved). */
export type TaskFunction<A = unknown, R = unknown> = (arg: A) => R | Promise<R>;

/** Describes a task to {@link WorkerPoolOptions.onPanic}. */
export interface PanicTask {
  /** The export that ran (`''` for the default export). */
  name: string;
  /** The argument the task was submitted with. */
  arg: unknown;
}

/** Options of {@link WorkerPool}, in ants' terms where ants has one. */
export interface WorkerPoolOptions {
  /**
   * Capacity: the most tasks running at once, which is also the most worker threads
   * alive. Default: `os.availableParallelism()`.
   */
  size?: number;
  /**
   * Milliseconds an idle worker lives before it exits (ants' `ExpiryDuration`).
   * Default 1000. The pool grows back on demand.
   */
  expiry?: number;
  /** Never retire idle workers (ants' `DisablePurge`). */
  disablePurge?: boolean;
  /** Start all `size` workers now instead of on demand (and again after `reboot`). */
  preAlloc?: boolean;
  /**
   * When every worker is busy, reject a submit at once with `ERR_POOL_OVERLOAD`
   * instead of queueing it (ants' `Nonblocking`).
   */
  nonblocking?: boolean;
  /**
   * How many tasks may wait for a worker (ants' `MaxBlockingTasks`); a submit beyond
   * that rejects with `ERR_POOL_OVERLOAD`. 0 (default) = unlimited.
   */
  maxBlockingTasks?: number;
  /**
   * Called when a task throws (ants' `PanicHandler`), on the thread that submitted
   * it, after its promise is rejected. The worker survives.
   */
  onPanic?: (err: unknown, task: PanicTask) => void;
  /** Passed to each `Worker` (heap limits; a worker over them is replaced). */
  resourceLimits?: ResourceLimits;
  /**
   * Visible to task modules as `require('worker_threads').workerData`. Cloned into
   * each worker, so a SharedArrayBuffer in it is shared by all of them.
   */
  workerData?: unknown;
  /** Environment of the workers (`Worker`'s `env` option). Default: `process.env`. */
  env?: NodeJS.Dict<string> | typeof import('worker_threads').SHARE_ENV;
  /** Extra `execArgv` for the workers. */
  execArgv?: string[];
  /**
   * Task slots in shared memory for tasks submitted from this thread (default 512).
   * More tasks than this in flight still work; the extra ones wait in a local queue
   * for a slot.
   */
  slots?: number;
  /**
   * Bytes of argument/result a slot carries in shared memory (default 1024). Larger
   * values travel by message (structured clone), which is correct but slower.
   */
  slotBytes?: number;
  /** Cells of the shared submission queue (default 4096, rounded to a power of two). */
  queueSize?: number;
}

/** Options of one submission. */
export interface SubmitOptions {
  /** Named export of the task module to run (default: the default export). */
  name?: string;
  /**
   * Objects to transfer rather than copy. A task with a transfer list travels by
   * message (the list is honoured from the owner thread; from an attached client it
   * is cloned, because a BroadcastChannel cannot transfer).
   */
  transferList?: ReadonlyArray<Transferable>;
  /** Abort the task: it rejects with `ABORT_ERR` (and its worker is replaced if it was running). */
  signal?: AbortSignal;
  /**
   * Milliseconds from submit until the task rejects with `ERR_POOL_TIMEOUT` (queue
   * time included); 0 or absent: no timeout. A running task that times out has its
   * worker replaced.
   */
  timeout?: number;
}

/** Options of a client attached to a pool from another thread. */
export interface AttachOptions {
  /** As {@link WorkerPoolOptions.onPanic}, for tasks submitted through this client. */
  onPanic?: (err: unknown, task: PanicTask) => void;
  /** Task slots of this client (default 256). */
  slots?: number;
}

/**
 * A pool, described in plain data so that it can cross threads: postMessage it, put it
 * in `workerData`, clone it as often as needed, then `WorkerPool.attach(handle)` in
 * the other thread. Holds the pool's SharedArrayBuffer and the name of the
 * BroadcastChannel on which attached clients talk to the owner thread.
 */
export interface PoolHandle {
  readonly kind: 'ringnet.pool';
  readonly version: number;
  readonly sab: SharedArrayBuffer;
  readonly channel: string;
  readonly slotBytes: number;
}
