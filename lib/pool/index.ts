/**
 * ringnet's worker pool: ants-style capacity, expiry, nonblocking and tuning on
 * worker_threads, with tasks dispatched through shared memory.
 *
 * - {@link WorkerPool}: one pool; `submit(arg)` runs the task module in a worker.
 * - {@link MultiPool}: several pools behind one `submit`.
 * - `pool.handle` + `WorkerPool.attach(handle)`: submit to the same pool from other
 *   threads (e.g. every event-loop thread of a ringnet engine).
 */
export { WorkerPool, MAX_POOL_SIZE } from './pool';
export { AttachedPool } from './remote';
export {
  MultiPool,
  AttachedMultiPool,
  type LoadBalancingStrategy,
  type MultiPoolOptions,
  type MultiPoolHandle,
} from './multi';
export type { AttachOptions, PanicTask, PoolHandle, SubmitOptions, TaskFunction, WorkerPoolOptions } from './types';
export type { PoolError, PoolErrorCode } from './errors';
