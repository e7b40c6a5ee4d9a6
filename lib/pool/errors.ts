/**
 * Pool errors: plain `Error`s with a `code`, so callers switch on `err.code` the way
 * they do for Node's own errors.
 */

/** Error codes the pool rejects with. */
export type PoolErrorCode =
  | 'ERR_POOL_OVERLOAD'
  | 'ERR_POOL_CLOSED'
  | 'ERR_POOL_TIMEOUT'
  | 'ERR_POOL_WORKER_EXIT'
  | 'ERR_POOL_TASK_NOT_FOUND'
  | 'ERR_POOL_INVALID_ARG'
  | 'ABORT_ERR';

/** An `Error` whose `code` is one of {@link PoolErrorCode}. */
export interface PoolError extends Error {
  code: PoolErrorCode;
}

export function poolError(code: PoolErrorCode, message: string, cause?: unknown): PoolError {
  const err = (cause === undefined ? new Error(message) : new Error(message, { cause })) as PoolError;
  err.code = code;
  if (code === 'ABORT_ERR') err.name = 'AbortError';
  return err;
}

export function overloadError(what: string): PoolError {
  return poolError('ERR_POOL_OVERLOAD', `ringnet pool: ${what}`);
}

export function closedError(): PoolError {
  return poolError('ERR_POOL_CLOSED', 'ringnet pool: the pool is closed (released); reboot() it to submit again');
}

export function invalidArg(message: string): PoolError {
  const err = poolError('ERR_POOL_INVALID_ARG', `ringnet pool: ${message}`);
  return err;
}

/** A value as an error message names it: strings quoted and called strings. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

/** The first own key of `o` not in `known`, if any. */
export function unknownKey(o: object, known: readonly string[]): string | undefined {
  return Object.keys(o).find((k) => !known.includes(k));
}

/** A task argument that cannot cross to a worker (a function, a symbol…): a string code, the cause kept. */
export function uncloneableArg(cause: unknown): PoolError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return poolError('ERR_POOL_INVALID_ARG', `ringnet pool: the task argument cannot be sent to a worker (structured clone): ${why}`, cause);
}
