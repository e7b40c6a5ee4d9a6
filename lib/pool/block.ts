/**
 * A client block: one submitting thread's task slots and completion queue, in one
 * SharedArrayBuffer that the thread's workers see too (layout.ts has the words).
 */
import {
  C_CQ_BASE,
  C_CQ_CAP,
  C_CQ_HEAD,
  C_CQ_TAIL,
  C_ID,
  C_MAGIC,
  C_SLOT_BYTES,
  C_SLOTS,
  clientBlockBytes,
  MAGIC,
  pow2,
  SLOT_HEADER,
  slotStride,
  slotsOffset,
} from './layout';
import type { ClientInfo } from './protocol';
import { Ring } from './ring';

/** Buffer's own fast paths (undocumented but present on every supported Node). */
interface FastBuffer extends Buffer {
  utf8Write(s: string, offset: number, max: number): number;
  utf8Slice(start: number, end: number): string;
}

/** Typed views over one client block (owned by the client, shared with workers). */
export class Block {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly buf: FastBuffer;
  readonly slotsOff: number;
  readonly stride: number;

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly slots: number,
    readonly slotBytes: number,
    cqCap: number,
  ) {
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.u8 = new Uint8Array(sab);
    this.buf = Buffer.from(sab) as FastBuffer;
    this.slotsOff = slotsOffset(cqCap);
    this.stride = slotStride(slotBytes);
  }

  /** Int32 index of slot `i`'s header. */
  h(i: number): number {
    return (this.slotsOff + i * this.stride) >> 2;
  }

  /** Byte offset of slot `i`'s payload. */
  data(i: number): number {
    return this.slotsOff + i * this.stride + SLOT_HEADER;
  }
}

/** Allocate and initialise a client block (slots + completion queue) for client `id`. */
export function newClientBlock(id: number, slots: number, slotBytes: number): { info: ClientInfo; block: Block } {
  const cqCap = pow2(slots * 2);
  const sab = new SharedArrayBuffer(clientBlockBytes(slots, slotBytes, cqCap));
  const i32 = new Int32Array(sab);
  i32[C_MAGIC] = MAGIC;
  i32[C_ID] = id;
  i32[C_SLOTS] = slots;
  i32[C_SLOT_BYTES] = slotBytes;
  i32[C_CQ_CAP] = cqCap;
  Ring.init(i32, C_CQ_HEAD, C_CQ_TAIL, C_CQ_BASE, cqCap);
  return { info: { id, sab, slots, slotBytes, cqCap }, block: new Block(sab, slots, slotBytes, cqCap) };
}
