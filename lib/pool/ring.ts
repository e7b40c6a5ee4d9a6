/**
 * Bounded multi-producer multi-consumer ring over shared memory (Dmitry Vyukov's
 * algorithm). Each cell carries its own sequence word; a producer claims a position
 * with one CAS on the tail and publishes by storing the cell's sequence, a consumer
 * likewise on the head. No locks: a thread stalled between claim and publish only
 * delays the consumer of that one cell.
 *
 * Positions are 32-bit and wrap; comparisons use `(a - b) | 0`, which stays correct as
 * long as the capacity is far below 2^31.
 *
 * Memory ordering: JS `Atomics` operations are sequentially consistent, so the plain
 * writes of a cell's payload (and of the slot it names) before the publishing
 * `Atomics.store` are visible to any thread whose `Atomics.load` sees that store.
 */
import { CELL } from './layout';

export class Ring {
  /** Payload of the last successful `pop`. */
  a = 0;
  b = 0;

  constructor(
    private readonly i32: Int32Array,
    private readonly head: number,
    private readonly tail: number,
    private readonly base: number,
    private readonly mask: number,
  ) {}

  /** Set every cell's sequence to its index: an empty ring. Only before sharing it. */
  static init(i32: Int32Array, head: number, tail: number, base: number, cap: number): void {
    for (let i = 0; i < cap; i++) i32[base + i * CELL] = i;
    i32[head] = 0;
    i32[tail] = 0;
  }

  /** Append (a, b). Returns false when the ring is full. */
  push(a: number, b: number): boolean {
    const i32 = this.i32;
    let pos = Atomics.load(i32, this.tail);
    for (;;) {
      const cell = this.base + (pos & this.mask) * CELL;
      const seq = Atomics.load(i32, cell);
      const dif = (seq - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, this.tail, pos, (pos + 1) | 0);
        if (seen === pos) {
          i32[cell + 1] = a;
          i32[cell + 2] = b;
          Atomics.store(i32, cell, (pos + 1) | 0);
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(i32, this.tail);
      }
    }
  }

  /** Take the oldest entry into `this.a` / `this.b`. Returns false when empty. */
  pop(): boolean {
    const i32 = this.i32;
    let pos = Atomics.load(i32, this.head);
    for (;;) {
      const cell = this.base + (pos & this.mask) * CELL;
      const seq = Atomics.load(i32, cell);
      const dif = (seq - ((pos + 1) | 0)) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, this.head, pos, (pos + 1) | 0);
        if (seen === pos) {
          this.a = i32[cell + 1];
          this.b = i32[cell + 2];
          Atomics.store(i32, cell, (pos + this.mask + 1) | 0);
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(i32, this.head);
      }
    }
  }

  /** Cheap emptiness hint (racy by nature; callers re-check with `pop`). */
  isEmpty(): boolean {
    return Atomics.load(this.i32, this.head) === Atomics.load(this.i32, this.tail);
  }

  /** Entries pushed and not yet popped (a snapshot). */
  size(): number {
    return (Atomics.load(this.i32, this.tail) - Atomics.load(this.i32, this.head)) | 0;
  }
}
