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
