/**
 * MultiPool (ants' `MultiPool`): several pools behind one submit, to spread submitters
 * over several shared queues when one queue's cache lines become the bottleneck.
 */
import { describeValue, invalidArg } from './errors';
import { WorkerPool, type AttachedPool } from './pool';
import type { AttachOptions, PoolHandle, SubmitOptions, WorkerPoolOptions } from './types';

/** How a MultiPool picks the pool for a task. */
export type LoadBalancingStrategy = 'roundRobin' | 'leastTasks';

/** Options of {@link MultiPool}: those of each pool, plus how many and how to pick. */
export interface MultiPoolOptions extends WorkerPoolOptions {
  /** Number of pools (default 2). `size` is the capacity of each. */
  pools?: number;
  /** Default `'roundRobin'`. */
  strategy?: LoadBalancingStrategy;
}

/** Plain-data form of a MultiPool for {@link MultiPool.attach} on another thread. */
export interface MultiPoolHandle {
  readonly kind: 'ringnet.multipool';
  readonly pools: readonly PoolHandle[];
  readonly strategy: LoadBalancingStrategy;
}

interface Submitter {
  submit<R>(arg?: unknown, options?: SubmitOptions): Promise<R>;
  readonly pending: number;
}

/** Shared picking logic of MultiPool and its attached form. */
class Balancer<P extends Submitter> {
  private next = 0;

  constructor(
    readonly pools: readonly P[],
    readonly strategy: LoadBalancingStrategy,
  ) {
    if (strategy !== 'roundRobin' && strategy !== 'leastTasks') {
      throw invalidArg(`strategy must be 'roundRobin' or 'leastTasks', got ${String(strategy)}`);
    }
  }

  pick(strategy: LoadBalancingStrategy): P {
    const pools = this.pools;
    if (strategy === 'roundRobin') {
      const p = pools[this.next];
      this.next = (this.next + 1) % pools.length;
      return p;
    }
    let best = pools[0];
    let least = best.pending;
    for (let k = 1; k < pools.length && least > 0; k++) {
      const n = pools[k].pending;
      if (n < least) {
        least = n;
        best = pools[k];
      }
    }
    return best;
  }

  async submit<R>(arg: unknown, options: SubmitOptions | undefined): Promise<R> {
    try {
      return await this.pick(this.strategy).submit<R>(arg, options);
    } catch (err) {
      // As ants: an overloaded round-robin pick gets one second chance on the least busy.
      if (this.strategy !== 'roundRobin' || (err as { code?: string }).code !== 'ERR_POOL_OVERLOAD') throw err;
      return this.pick('leastTasks').submit<R>(arg, options);
    }
  }
}

/**
 * `pools` WorkerPools of `size` workers each, running the same task module, behind one
 * `submit`.
 */
export class MultiPool {
  readonly #balancer: Balancer<WorkerPool>;

  constructor(filename: string | URL, options: MultiPoolOptions = {}) {
    const { pools: count = 2, strategy = 'roundRobin', ...poolOptions } = options;
    if (!Number.isInteger(count) || count < 1 || count > 256) throw invalidArg(`pools must be an integer in [1, 256], got ${describeValue(count)}`);
    const pools: WorkerPool[] = [];
    for (let k = 0; k < count; k++) pools.push(new WorkerPool(filename, poolOptions));
    this.#balancer = new Balancer(pools, strategy);
  }

  /** As {@link WorkerPool.submit}, on the pool the strategy picks. */
  submit<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#balancer.submit<R>(arg, options);
  }

  /** Alias of {@link submit}. */
  run<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#balancer.submit<R>(arg, options);
  }

  /** The pools, in order (ants' `…ByIndex` accessors read them). */
  get pools(): readonly WorkerPool[] {
    return this.#balancer.pools;
  }

  /** Set the capacity of every pool. */
  tune(size: number): void {
    for (const p of this.pools) p.tune(size);
  }

  release(): Promise<void> {
    return Promise.all(this.pools.map((p) => p.release())).then(() => undefined);
  }

  /** As {@link WorkerPool.releaseTimeout}, for all pools at once; rejects if any timed out. */
  async releaseTimeout(ms: number): Promise<void> {
    const results = await Promise.allSettled(this.pools.map((p) => p.releaseTimeout(ms)));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  terminate(): Promise<void> {
    return Promise.all(this.pools.map((p) => p.terminate())).then(() => undefined);
  }

  reboot(): void {
    for (const p of this.pools) p.reboot();
  }

  get cap(): number {
    return this.sum((p) => p.cap);
  }

  get running(): number {
    return this.sum((p) => p.running);
  }

  get free(): number {
    return this.sum((p) => p.free);
  }

  get waiting(): number {
    return this.sum((p) => p.waiting);
  }

  get workers(): number {
    return this.sum((p) => p.workers);
  }

  get isClosed(): boolean {
    return this.pools.every((p) => p.isClosed);
  }

  /** Plain data for {@link MultiPool.attach} on another thread. */
  get handle(): MultiPoolHandle {
    return { kind: 'ringnet.multipool', pools: this.pools.map((p) => p.handle), strategy: this.#balancer.strategy };
  }

  /** Connect to a MultiPool owned by another thread. */
  static attach(handle: MultiPoolHandle, options?: AttachOptions): AttachedMultiPool {
    return new AttachedMultiPool(handle, options);
  }

  private sum(f: (p: WorkerPool) => number): number {
    let n = 0;
    for (const p of this.pools) n += f(p);
    return n;
  }
}

/** A MultiPool attached from another thread. */
export class AttachedMultiPool {
  readonly #balancer: Balancer<AttachedPool>;
  /** Resolves when every pool has registered this thread. */
  readonly ready: Promise<void>;

  /** @internal use {@link MultiPool.attach}. */
  constructor(handle: MultiPoolHandle, options?: AttachOptions) {
    if (handle === null || typeof handle !== 'object' || handle.kind !== 'ringnet.multipool') {
      throw invalidArg('MultiPool.attach() needs the `handle` of a MultiPool');
    }
    const pools = handle.pools.map((h) => WorkerPool.attach(h, options));
    this.#balancer = new Balancer(pools, handle.strategy);
    this.ready = Promise.all(pools.map((p) => p.ready)).then(() => undefined);
  }

  submit<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#balancer.submit<R>(arg, options);
  }

  run<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#balancer.submit<R>(arg, options);
  }

  get pools(): readonly AttachedPool[] {
    return this.#balancer.pools;
  }

  close(): Promise<void> {
    return Promise.all(this.pools.map((p) => p.close())).then(() => undefined);
  }
}
