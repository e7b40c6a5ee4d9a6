// Buffers over the loop's memory (the read arena, connection buffers: native
// hands them to JS as ArrayBuffers, binding_loop.cc AllocBuf). A view is made for
// every next()/peek() and every codec frame, so it is made the cheapest way there
// is: Node's Buffer class (Buffer[Symbol.species], whose prototype is
// Buffer.prototype) constructed directly. buf.subarray() reaches the same class
// through a species lookup and the legacy Buffer() constructor, ~2.5x the cost
// (issue 9 profile of 50 x 4 KiB: one view per message).
type ViewClass = new (ab: ArrayBufferLike, off: number, len: number) => Buffer;

const species = (Buffer as unknown as { [Symbol.species]?: unknown })[Symbol.species];
const FastBuffer: ViewClass | undefined =
  typeof species === 'function' && (species as ViewClass).prototype === Buffer.prototype ? (species as ViewClass) : undefined;

/** A Buffer over `len` bytes of `ab` from `off` (no copy). */
export const viewOf: (ab: ArrayBufferLike, off: number, len: number) => Buffer =
  FastBuffer !== undefined ? (ab, off, len) => new FastBuffer(ab, off, len) : (ab, off, len) => Buffer.from(ab as ArrayBuffer, off, len);
