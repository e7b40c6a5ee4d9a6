/**
 * Waking parked workers. Each worker parks on its own futex word, so a waker chooses
 * whom to wake: the one that parked last (ants keeps idle workers on a stack for the
 * same reason: its caches and its CPU are the warmest), and never the same one twice.
 */
import {
  P_RECORDS_HWM,
  P_WORKERS,
  W_ASLEEP,
  W_SLEPT,
  W_STRIDE,
  W_WAKE,
} from './layout';

/** Wake up to `n` parked workers, most recently parked first. Returns how many. */
export function wakeWorkers(pool: Int32Array, n: number): number {
  const hwm = Atomics.load(pool, P_RECORDS_HWM);
  let woken = 0;
  while (woken < n) {
    let best = -1;
    let bestTicket = 0;
    for (let w = 0; w < hwm; w++) {
      const r = P_WORKERS + w * W_STRIDE;
      if (Atomics.load(pool, r + W_ASLEEP) !== 1) continue;
      const ticket = Atomics.load(pool, r + W_SLEPT);
      if (best < 0 || ((ticket - bestTicket) | 0) > 0) {
        best = r;
        bestTicket = ticket;
      }
    }
    if (best < 0) break;
    // Claim it, so that a concurrent waker picks another one.
    if (Atomics.compareExchange(pool, best + W_ASLEEP, 1, 0) !== 1) continue;
    Atomics.add(pool, best + W_WAKE, 1);
    Atomics.notify(pool, best + W_WAKE, 1);
    woken++;
  }
  return woken;
}

/** Wake every worker, parked or not (capacity tuned down, pool closing). */
export function wakeAllWorkers(pool: Int32Array): void {
  const hwm = Atomics.load(pool, P_RECORDS_HWM);
  for (let w = 0; w < hwm; w++) {
    const r = P_WORKERS + w * W_STRIDE;
    Atomics.compareExchange(pool, r + W_ASLEEP, 1, 0);
    Atomics.add(pool, r + W_WAKE, 1);
    Atomics.notify(pool, r + W_WAKE);
  }
}
