/**
 * `Atomics.waitAsync` (ES2024) is in every supported Node, but not in the ES2022 lib
 * this package compiles against.
 */
export type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

export const waitAsync = (Atomics as unknown as {
  waitAsync(i32: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult;
}).waitAsync;
