// Loop counters: the stats region of shared memory (layout.h ST_*), named.
import { STAT_NAMES } from './layout';

/** Counters of one loop, read from shared memory without stopping it. */
export type LoopStats = Record<(typeof STAT_NAMES)[number], number>;

/** Name the values of a stats region (layout order). @internal */
export function statsOf(values: ArrayLike<number>): LoopStats {
  const out = {} as LoopStats;
  STAT_NAMES.forEach((k, i) => (out[k] = values[i]));
  return out;
}
