/**
 * Values in and out of task slots. Small values of common types are written into the
 * slot's payload area in shared memory; what does not fit (too large, a transfer list,
 * something structured clone cannot carry in bytes) is reported back so the caller can
 * send it by message instead.
 *
 * Encodings (the slot's S_TAG):
 * - numbers: the f64 in the slot header, no payload;
 * - strings: UTF-8;
 * - Buffers, typed arrays, DataViews, ArrayBuffers: their bytes (S_AUX names the kind);
 * - plain JSON-safe objects and arrays: JSON text (≈5× cheaper than `v8.serialize`);
 * - any other structured-cloneable value: `v8.serialize` bytes, so Dates, Maps, BigInts,
 *   `undefined` in objects, cycles… keep their structured-clone meaning;
 * - errors: a descriptor (name, message, stack, code and own props) rebuilt as an Error.
 */
import type { Block } from './block';
import { S_AUX, S_LEN, S_NAME_LEN, S_NUM, S_TAG } from './layout';

type V8 = typeof import('v8');
let v8module: V8 | undefined;
/** Loaded on first use: `v8` pulls in streams and heap utilities that most workers never need. */
function v8(): V8 {
  return (v8module ??= require('v8') as V8);
}

export const T_UNDEFINED = 0;
export const T_NULL = 1;
export const T_FALSE = 2;
export const T_TRUE = 3;
export const T_NUMBER = 4;
export const T_STRING = 5;
export const T_BUFFER = 6;
export const T_TYPED = 7;
export const T_ARRAYBUFFER = 8;
export const T_JSON = 9;
export const T_V8 = 10;
/** The task threw an Error (payload: v8-serialized descriptor). */
export const T_ERROR = 11;
/** The task threw something that is not an Error (payload: v8-serialized value). */
export const T_THROWN = 12;
/** The value travels by message; the slot only says so. */
export const T_MSG = 13;
/** Result only: the pool was closed before the task ran. */
export const T_CLOSED = 14;
/** Result only: the worker died while running the task (payload: UTF-8 reason). */
export const T_EXIT = 15;

type TypedCtor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView;

/** Typed-array kinds by S_AUX; the element size turns bytes back into a length. */
const TYPED: ReadonlyArray<[TypedCtor, number]> = [
  [Int8Array, 1],
  [Uint8Array, 1],
  [Uint8ClampedArray, 1],
  [Int16Array, 2],
  [Uint16Array, 2],
  [Int32Array, 4],
  [Uint32Array, 4],
  [Float32Array, 4],
  [Float64Array, 8],
  [BigInt64Array, 8],
  [BigUint64Array, 8],
  [DataView as unknown as TypedCtor, 1],
];

function typedKind(v: ArrayBufferView): number {
  for (let i = 0; i < TYPED.length; i++) if (v.constructor === TYPED[i][0]) return i;
  return -1;
}

const MAX_JSON_DEPTH = 16;

/** True when `JSON.parse(JSON.stringify(v))` gives back an equal value. */
function jsonSafe(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!jsonSafe(v[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) {
        if (!jsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function writeBytes(b: Block, i: number, at: number, room: number, src: ArrayBufferView, tag: number, aux: number): boolean {
  const n = src.byteLength;
  if (n > room) return false;
  b.u8.set(new Uint8Array(src.buffer, src.byteOffset, n), at);
  const h = b.h(i);
  b.i32[h + S_TAG] = tag;
  b.i32[h + S_AUX] = aux;
  b.i32[h + S_LEN] = n;
  return true;
}

function writeString(b: Block, i: number, at: number, room: number, s: string, tag: number): boolean {
  if (s.length * 3 > room && Buffer.byteLength(s) > room) return false;
  const n = b.buf.utf8Write(s, at, room);
  const h = b.h(i);
  b.i32[h + S_TAG] = tag;
  b.i32[h + S_LEN] = n;
  return true;
}

/**
 * Write `v` into slot `i`'s payload, after `skip` bytes (the task name, for args).
 * Returns false when it must travel by message instead.
 */
export function encode(b: Block, i: number, v: unknown, skip: number): boolean {
  lastEncodeUnserializable = false;
  const h = b.h(i);
  const at = b.data(i) + skip;
  const room = b.slotBytes - skip;
  const i32 = b.i32;
  switch (typeof v) {
    case 'number':
      i32[h + S_TAG] = T_NUMBER;
      b.f64[(h + S_NUM) >> 1] = v;
      return true;
    case 'string':
      return writeString(b, i, at, room, v, T_STRING);
    case 'boolean':
      i32[h + S_TAG] = v ? T_TRUE : T_FALSE;
      return true;
    case 'undefined':
      i32[h + S_TAG] = T_UNDEFINED;
      return true;
    case 'object':
      if (v === null) {
        i32[h + S_TAG] = T_NULL;
        return true;
      }
      if (ArrayBuffer.isView(v)) {
        if (Buffer.isBuffer(v)) return writeBytes(b, i, at, room, v, T_BUFFER, 0);
        const kind = typedKind(v);
        if (kind >= 0) return writeBytes(b, i, at, room, v, T_TYPED, kind);
      } else if (v instanceof ArrayBuffer) {
        return writeBytes(b, i, at, room, new Uint8Array(v), T_ARRAYBUFFER, 0);
      } else if (jsonSafe(v, 0)) {
        return writeString(b, i, at, room, JSON.stringify(v), T_JSON);
      }
      return writeSerialized(b, i, at, room, v);
    default:
      return writeSerialized(b, i, at, room, v);
  }
}

/**
 * v8.serialize covers structured clone except host objects (SharedArrayBuffer,
 * MessagePort…): those, like values too large, go by message, whose clone takes them
 * (or reports a DataCloneError for functions and symbols).
 */
function writeSerialized(b: Block, i: number, at: number, room: number, v: unknown): boolean {
  let bytes: Buffer;
  try {
    bytes = v8().serialize(v);
  } catch {
    lastEncodeUnserializable = true;
    return false;
  }
  return writeBytes(b, i, at, room, bytes, T_V8, 0);
}

/** Set when the last `encode` returned false because v8.serialize refused the value. */
export let lastEncodeUnserializable = false;

/** Read back what `encode` wrote (tags T_UNDEFINED … T_V8 only). */
export function decode(b: Block, i: number, skip: number): unknown {
  const h = b.h(i);
  const i32 = b.i32;
  const tag = i32[h + S_TAG];
  switch (tag) {
    case T_NUMBER:
      return b.f64[(h + S_NUM) >> 1];
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
  }
  const at = b.data(i) + skip;
  const n = i32[h + S_LEN];
  switch (tag) {
    case T_STRING:
      return b.buf.utf8Slice(at, at + n);
    case T_JSON:
      return JSON.parse(b.buf.utf8Slice(at, at + n));
    case T_BUFFER: {
      const out = Buffer.allocUnsafe(n);
      b.buf.copy(out, 0, at, at + n);
      return out;
    }
    case T_TYPED: {
      const [Ctor, size] = TYPED[i32[h + S_AUX]];
      const ab = new ArrayBuffer(n);
      new Uint8Array(ab).set(b.u8.subarray(at, at + n));
      return Ctor === (DataView as unknown) ? new DataView(ab) : new Ctor(ab, 0, n / size);
    }
    case T_ARRAYBUFFER: {
      const ab = new ArrayBuffer(n);
      new Uint8Array(ab).set(b.u8.subarray(at, at + n));
      return ab;
    }
    case T_V8:
    case T_THROWN:
      return v8().deserialize(b.u8.subarray(at, at + n));
  }
  throw new Error(`ringnet pool: unknown payload tag ${tag} in slot ${i}`);
}

/** Write the task name at the start of slot `i`'s payload; returns its byte length. */
export function encodeName(b: Block, i: number, name: string): number {
  const n = name.length === 0 ? 0 : b.buf.utf8Write(name, b.data(i), b.slotBytes);
  b.i32[b.h(i) + S_NAME_LEN] = n;
  return n;
}

export function decodeName(b: Block, i: number): string {
  const n = b.i32[b.h(i) + S_NAME_LEN];
  if (n === 0) return '';
  const at = b.data(i);
  return b.buf.utf8Slice(at, at + n);
}

// ---- errors ---------------------------------------------------------------------

interface ErrorDescriptor {
  name: string;
  message: string;
  stack?: string;
  props?: Record<string, unknown>;
}

const ERROR_CTORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function describe(err: Error): ErrorDescriptor {
  const d: ErrorDescriptor = { name: err.name, message: err.message, stack: err.stack };
  const props: Record<string, unknown> = {};
  let any = false;
  for (const k of Object.keys(err)) {
    props[k] = (err as unknown as Record<string, unknown>)[k];
    any = true;
  }
  if (err.cause !== undefined) {
    props.cause = err.cause instanceof Error ? describe(err.cause) : err.cause;
    any = true;
  }
  if (any) d.props = props;
  return d;
}

function rebuild(d: ErrorDescriptor): Error {
  const Ctor = ERROR_CTORS[d.name] ?? Error;
  const err = new Ctor(d.message);
  if (err.name !== d.name) Object.defineProperty(err, 'name', { value: d.name, configurable: true, writable: true });
  if (d.stack !== undefined) err.stack = d.stack;
  if (d.props) {
    for (const k of Object.keys(d.props)) {
      let v = d.props[k];
      if (k === 'cause' && v && typeof v === 'object' && 'message' in v && 'name' in v) v = rebuild(v as ErrorDescriptor);
      (err as unknown as Record<string, unknown>)[k] = v;
    }
  }
  return err;
}

/** Serialize what a task threw into bytes (worker side). */
export function serializeThrown(thrown: unknown): { tag: number; bytes: Buffer } {
  if (thrown instanceof Error) {
    const d = describe(thrown);
    try {
      return { tag: T_ERROR, bytes: v8().serialize(d) };
    } catch {
      delete d.props; // a prop that cannot be cloned: keep name, message and stack
      return { tag: T_ERROR, bytes: v8().serialize(d) };
    }
  }
  try {
    return { tag: T_THROWN, bytes: v8().serialize(thrown) };
  } catch {
    return { tag: T_ERROR, bytes: v8().serialize({ name: 'Error', message: String(thrown) }) };
  }
}

/** Store a thrown value in slot `i`, or return the bytes when they do not fit. */
export function encodeThrown(b: Block, i: number, thrown: unknown): Buffer | null {
  const { tag, bytes } = serializeThrown(thrown);
  if (writeBytes(b, i, b.data(i), b.slotBytes, bytes, tag, 0)) return null;
  return bytes;
}

/** Rebuild what `serializeThrown` produced. */
export function deserializeThrown(tag: number, bytes: Uint8Array): unknown {
  const v = v8().deserialize(bytes);
  return tag === T_ERROR ? rebuild(v as ErrorDescriptor) : v;
}

/** Read a T_ERROR / T_THROWN result from slot `i`. */
export function decodeThrown(b: Block, i: number): unknown {
  const h = b.h(i);
  const at = b.data(i);
  return deserializeThrown(b.i32[h + S_TAG], b.u8.subarray(at, at + b.i32[h + S_LEN]));
}

export function encodeText(b: Block, i: number, tag: number, text: string): void {
  const h = b.h(i);
  b.i32[h + S_TAG] = tag;
  b.i32[h + S_LEN] = b.buf.utf8Write(text, b.data(i), b.slotBytes);
}

export function decodeText(b: Block, i: number): string {
  const h = b.h(i);
  const at = b.data(i);
  return b.buf.utf8Slice(at, at + b.i32[h + S_LEN]);
}
