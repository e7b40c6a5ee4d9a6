/** An `Error` with a stable `code` (`ERR_RINGNET_…` or an errno name such as `EADDRINUSE`). */
export interface RingnetError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

/** Make an `Error` carrying `code`. @internal */
export function makeError(code: string, message: string): RingnetError {
  const e = new Error(message) as RingnetError;
  e.code = code;
  return e;
}

/** Error for a peer-side failure reported by the native loop as an errno. @internal */
export function errnoError(name: string, errno: number, what: string): RingnetError {
  const e = makeError(name, `${what}: ${name}`);
  e.errno = -errno;
  return e;
}

/** The error a loop thread's failure is reported with (issue 8, item 2). @internal */
export function loopFailed(index: number, cause: { name?: string; message: string; stack?: string; code?: string }): RingnetError {
  const e = makeError('ERR_RINGNET_LOOP_FAILED', `ringnet: loop ${index} failed: ${cause.message}`) as RingnetError & { loopIndex: number };
  e.loopIndex = index;
  (e as { cause?: unknown }).cause = cause;
  return e;
}

/** A value as an error message names it: strings quoted and called strings. @internal */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

/** The first own key of `o` not in `known`, if any. @internal */
export function unknownKey(o: object, known: readonly string[]): string | undefined {
  return Object.keys(o).find((k) => !known.includes(k));
}
