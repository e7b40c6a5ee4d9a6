/**
 * The pool's state as every thread reads it: straight from the pool block, so an
 * attached client sees the same numbers as the owner.
 */
import {
  P_CAP,
  P_LIVE,
  P_PENDING,
  P_RECORDS_HWM,
  P_WORKERS,
  PENDING_CLOSED,
  PENDING_COUNT,
  W_AWAKE,
  W_CUR,
  W_STATE,
  W_STRIDE,
  WS_FREE,
  WS_RETIRED,
} from './layout';

export class PoolStats {
  constructor(private readonly pool: Int32Array) {}

  /** Capacity (ants' `Cap`). */
  get cap(): number {
    return Atomics.load(this.pool, P_CAP);
  }

  /** Tasks running in workers now. */
  get running(): number {
    const p = this.pool;
    const n = Atomics.load(p, P_RECORDS_HWM);
    let busy = 0;
    for (let w = 0; w < n; w++) {
      const r = P_WORKERS + w * W_STRIDE;
      const st = Atomics.load(p, r + W_STATE);
      if (st !== WS_FREE && st !== WS_RETIRED && Atomics.load(p, r + W_CUR) !== -1) busy++;
    }
    return busy;
  }

  /** Workers idle but awake (about to poll the queue again). */
  get awake(): number {
    const p = this.pool;
    const n = Atomics.load(p, P_RECORDS_HWM);
    let awake = 0;
    for (let w = 0; w < n; w++) awake += Atomics.load(p, P_WORKERS + w * W_STRIDE + W_AWAKE);
    return awake;
  }

  /** Tasks admitted and not yet running (ants' `Waiting`). */
  get waiting(): number {
    return Math.max(0, this.pending - this.running);
  }

  /** Tasks admitted and not finished: running + waiting. One load. */
  get pending(): number {
    return Atomics.load(this.pool, P_PENDING) & PENDING_COUNT;
  }

  /** Capacity left: `cap - running` (ants' `Free`). */
  get free(): number {
    return Math.max(0, this.cap - this.running);
  }

  /** Worker threads alive or starting, idle or busy. */
  get workers(): number {
    return Atomics.load(this.pool, P_LIVE);
  }

  get isClosed(): boolean {
    return (Atomics.load(this.pool, P_PENDING) & PENDING_CLOSED) !== 0;
  }
}
