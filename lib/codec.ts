// Framing codecs (issue 12): the `codec` option's types, its validation, the
// encoder side of conn.writeFrame, and the errors a bad inbound frame closes a
// connection with. Decoding is native (native/core/codec, loop/loop_codec.cc).
import { describeValue, makeError, RingnetError, unknownKey } from './errors';

/**
 * Frames that carry their length in a header field: Netty's
 * `LengthFieldBasedFrameDecoder` (same option names). A frame is
 * `lengthFieldOffset + lengthFieldLength + <field value> + lengthAdjustment`
 * bytes; `onMessage` gets it without its first `initialBytesToStrip` bytes.
 *
 * @example A 4-byte big-endian length, then that many payload bytes:
 * `{ type: 'length-field' }` (onMessage gets the payload only).
 */
export interface LengthFieldCodec {
  type: 'length-field';
  /** Bytes before the length field (default 0). `writeFrame` writes them as zeros. */
  lengthFieldOffset?: number;
  /** Size of the length field: 1, 2, 3, 4 or 8 bytes (default 4). */
  lengthFieldLength?: 1 | 2 | 3 | 4 | 8;
  /**
   * Added to the field's value to get the bytes that follow the field (default 0):
   * e.g. `-4` when a 4-byte field counts itself too.
   */
  lengthAdjustment?: number;
  /**
   * Bytes dropped from the front of each frame before `onMessage` sees it (default:
   * `lengthFieldOffset + lengthFieldLength`, the header: onMessage gets the
   * payload; `0` keeps the header, as Netty's default does).
   */
  initialBytesToStrip?: number;
  /** Byte order of the length field (default `'big'`, network order). */
  byteOrder?: 'big' | 'little';
  /**
   * Largest frame, header included (default 1 MiB, at most 2^30). A larger one
   * closes the connection: `onClose` gets `ERR_RINGNET_FRAME_TOO_LARGE`, as soon
   * as its header has arrived (its body is never buffered).
   */
  maxFrameLength?: number;
}

/**
 * Frames that end with a delimiter: Netty's `DelimiterBasedFrameDecoder`. The
 * earliest of the delimiters found ends a frame.
 */
export interface DelimiterCodec {
  type: 'delimiter';
  /** 1 to 4 delimiters, 1 to 16 bytes each (a string is UTF-8). `writeFrame` appends the first. */
  delimiters: readonly (Uint8Array | string)[];
  /** Drop the delimiter from the frame (default true). */
  stripDelimiter?: boolean;
  /** Largest frame without its delimiter (default 64 KiB, at most 2^30). Longer: `ERR_RINGNET_FRAME_TOO_LARGE`. */
  maxFrameLength?: number;
}

/** Frames of one size: Netty's `FixedLengthFrameDecoder`. */
export interface FixedCodec {
  type: 'fixed';
  /** Bytes per frame (1 to 2^30). `writeFrame` takes exactly that many. */
  frameLength: number;
}

/** Lines ending in `\n` or `\r\n`: Netty's `LineBasedFrameDecoder`. */
export interface LineCodec {
  type: 'line';
  /** Drop the line end (`\n` or `\r\n`) from the frame (default true). */
  stripDelimiter?: boolean;
  /** Longest line without its end (default 64 KiB, at most 2^30). Longer: `ERR_RINGNET_FRAME_TOO_LARGE`. */
  maxFrameLength?: number;
  /** What `writeFrame` appends: `'\n'` (the default) or `'\r\n'`. */
  lineEnding?: '\n' | '\r\n';
}

/**
 * The `codec` option of {@link serve}, {@link createClient} and
 * {@link Engine.dial}: how inbound bytes are cut into frames (natively) for
 * `onMessage`, and what {@link Conn.writeFrame} adds to a payload.
 */
export type CodecOptions = LengthFieldCodec | DelimiterCodec | FixedCodec | LineCodec;

/** A validated codec with every default filled in (structured-cloneable: it goes to loop threads). Not a stable API. */
export type ResolvedCodec =
  | { type: 'length-field'; lengthFieldOffset: number; lengthFieldLength: 1 | 2 | 3 | 4 | 8; lengthAdjustment: number; initialBytesToStrip: number; byteOrder: 'big' | 'little'; maxFrameLength: number; key: string }
  | { type: 'delimiter'; delimiters: Uint8Array[]; stripDelimiter: boolean; maxFrameLength: number; key: string }
  | { type: 'fixed'; frameLength: number; key: string }
  | { type: 'line'; stripDelimiter: boolean; maxFrameLength: number; lineEnding: '\n' | '\r\n'; key: string };

const MAX = 2 ** 30;

const KEYS: Record<CodecOptions['type'], readonly string[]> = {
  'length-field': ['type', 'lengthFieldOffset', 'lengthFieldLength', 'lengthAdjustment', 'initialBytesToStrip', 'byteOrder', 'maxFrameLength'],
  delimiter: ['type', 'delimiters', 'stripDelimiter', 'maxFrameLength'],
  fixed: ['type', 'frameLength'],
  line: ['type', 'stripDelimiter', 'maxFrameLength', 'lineEnding'],
};

function bad(where: string, field: string, v: unknown, want: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: ${where}.${field} must be ${want}, got ${describeValue(v)}`);
}

function int(o: Record<string, unknown>, where: string, field: string, def: number | undefined, min: number, max: number): number {
  const v = o[field];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(where, field, v, `an integer in ${min}..${max}`);
  return v;
}

function bool(o: Record<string, unknown>, where: string, field: string, def: boolean): boolean {
  const v = o[field];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw bad(where, field, v, 'a boolean');
  return v;
}

/**
 * Validate a codec option (`where` names it in messages: `option 'codec'`,
 * `dial option 'codec'`); undefined stays undefined. Throws
 * ERR_RINGNET_INVALID_OPTION naming the field. @internal
 */
export function resolveCodec(v: unknown, where = "option 'codec'"): ResolvedCodec | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: ${where} must be an object like { type: 'length-field' }, got ${describeValue(v)}`);
  }
  const o = v as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(KEYS, type)) {
    throw bad(where, 'type', type, "'length-field', 'delimiter', 'fixed' or 'line'");
  }
  const known = KEYS[type as CodecOptions['type']];
  const extra = unknownKey(o, known);
  if (extra !== undefined) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: ${where}: unknown field '${extra}' for type '${type}' (known: ${known.join(', ')})`);
  }
  switch (type) {
    case 'length-field': {
      const lengthFieldOffset = int(o, where, 'lengthFieldOffset', 0, 0, 65536);
      const len = o.lengthFieldLength ?? 4;
      if (len !== 1 && len !== 2 && len !== 3 && len !== 4 && len !== 8) throw bad(where, 'lengthFieldLength', len, '1, 2, 3, 4 or 8');
      const lengthAdjustment = int(o, where, 'lengthAdjustment', 0, -(2 ** 32), 2 ** 32);
      const maxFrameLength = int(o, where, 'maxFrameLength', 1 << 20, 1, MAX);
      const head = lengthFieldOffset + len;
      if (head > maxFrameLength) throw bad(where, 'maxFrameLength', maxFrameLength, `at least the header, lengthFieldOffset + lengthFieldLength = ${head}`);
      const initialBytesToStrip = int(o, where, 'initialBytesToStrip', head, 0, maxFrameLength);
      const byteOrder = o.byteOrder ?? 'big';
      if (byteOrder !== 'big' && byteOrder !== 'little') throw bad(where, 'byteOrder', byteOrder, "'big' or 'little'");
      const key = `lf:${lengthFieldOffset}:${len}:${lengthAdjustment}:${initialBytesToStrip}:${byteOrder}:${maxFrameLength}`;
      return { type, lengthFieldOffset, lengthFieldLength: len, lengthAdjustment, initialBytesToStrip, byteOrder, maxFrameLength, key };
    }
    case 'delimiter': {
      const d = o.delimiters;
      if (!Array.isArray(d) || d.length < 1 || d.length > 4) throw bad(where, 'delimiters', d, 'an array of 1 to 4 delimiters');
      const delimiters = d.map((x: unknown, i: number) => {
        if (typeof x !== 'string' && !(x instanceof Uint8Array)) throw bad(where, `delimiters[${i}]`, x, 'a string or a Buffer/Uint8Array');
        const b = typeof x === 'string' ? new Uint8Array(Buffer.from(x, 'utf8')) : new Uint8Array(x);
        if (b.length < 1 || b.length > 16) throw bad(where, `delimiters[${i}]`, x, `1 to 16 bytes (it is ${b.length})`);
        return b;
      });
      const stripDelimiter = bool(o, where, 'stripDelimiter', true);
      const maxFrameLength = int(o, where, 'maxFrameLength', 64 * 1024, 1, MAX);
      const key = `d:${delimiters.map((b) => Buffer.from(b).toString('hex')).join(',')}:${stripDelimiter}:${maxFrameLength}`;
      return { type, delimiters, stripDelimiter, maxFrameLength, key };
    }
    case 'fixed': {
      const frameLength = int(o, where, 'frameLength', undefined, 1, MAX);
      return { type, frameLength, key: `f:${frameLength}` };
    }
    default: {
      const stripDelimiter = bool(o, where, 'stripDelimiter', true);
      const maxFrameLength = int(o, where, 'maxFrameLength', 64 * 1024, 1, MAX);
      const lineEnding = o.lineEnding ?? '\n';
      if (lineEnding !== '\n' && lineEnding !== '\r\n') throw bad(where, 'lineEnding', lineEnding, "'\\n' or '\\r\\n'");
      // lineEnding is the encoder's only: the decoder is the same for both.
      return { type: 'line', stripDelimiter, maxFrameLength, lineEnding, key: `l:${stripDelimiter}:${maxFrameLength}` };
    }
  }
}

const CRLF = new Uint8Array([13, 10]);
const LF = new Uint8Array([10]);

/** What writeFrame appends after the payload; undefined for length-field and fixed. @internal */
/**
 * conn.writeFrame's checks of a payload of `len` bytes that a header or suffix
 * cannot catch: a fixed codec's exact length, a delimiter/line codec's maximum.
 * @internal
 */
export function checkFrame(codec: ResolvedCodec, len: number): void {
  if (codec.type === 'fixed' && len !== codec.frameLength) {
    throw makeError('ERR_RINGNET_INVALID_ARG', `ringnet: writeFrame: the fixed codec's frames are ${codec.frameLength} bytes, got ${len}`);
  }
  if ((codec.type === 'delimiter' || codec.type === 'line') && len > codec.maxFrameLength) {
    throw makeError('ERR_RINGNET_FRAME_TOO_LARGE', `ringnet: writeFrame: a ${len}-byte frame is over the ${codec.type} codec's maxFrameLength (${codec.maxFrameLength} bytes)`);
  }
}

export function frameSuffix(c: ResolvedCodec): Uint8Array | undefined {
  if (c.type === 'delimiter') return c.delimiters[0];
  if (c.type === 'line') return c.lineEnding === '\r\n' ? CRLF : LF;
  return undefined;
}

/** Bytes of the length-field header writeFrame puts before a payload. @internal */
export function headerLength(c: ResolvedCodec): number {
  return c.type === 'length-field' ? c.lengthFieldOffset + c.lengthFieldLength : 0;
}

function tooLarge(message: string): RingnetError {
  return makeError('ERR_RINGNET_FRAME_TOO_LARGE', message);
}

/**
 * Write the length-field header of a `len`-byte payload at `into[off]` (room for
 * headerLength(c) bytes); throws ERR_RINGNET_FRAME_TOO_LARGE when the payload does
 * not fit the field or maxFrameLength. @internal
 */
export function encodeHeader(c: ResolvedCodec, len: number, into: Uint8Array, off: number): void {
  if (c.type !== 'length-field') return;
  const head = c.lengthFieldOffset + c.lengthFieldLength;
  if (head + len > c.maxFrameLength) {
    throw tooLarge(`ringnet: writeFrame: a frame of ${head + len} bytes (header included) is over maxFrameLength (${c.maxFrameLength} bytes)`);
  }
  const value = len - c.lengthAdjustment;
  const size = c.lengthFieldLength;
  if (value < 0 || (size < 8 && value >= 2 ** (8 * size))) {
    throw tooLarge(`ringnet: writeFrame: a ${len}-byte payload gives the length field the value ${value}, which does not fit ${size} byte${size > 1 ? 's' : ''}`);
  }
  into.fill(0, off, off + c.lengthFieldOffset);
  const f = off + c.lengthFieldOffset;
  let v = value;
  // value < 2^53 here: byte by byte, without 32-bit operators.
  for (let i = 0; i < size; i++) {
    const b = v % 256;
    v = (v - b) / 256;
    into[c.byteOrder === 'big' ? f + size - 1 - i : f + i] = b;
  }
}

/** The error a connection closes with when its next inbound frame is bad (layout FR_TOO_LARGE / FR_INVALID). @internal */
export function frameError(c: ResolvedCodec | undefined, invalid: boolean, size: number): RingnetError {
  const atLeast = size >= 2 ** 31 - 1 ? 'at least ' : '';
  if (c === undefined) return tooLarge('ringnet: frame too large');
  switch (c.type) {
    case 'length-field': {
      const head = c.lengthFieldOffset + c.lengthFieldLength;
      const field = `the ${c.lengthFieldLength}-byte length field at offset ${c.lengthFieldOffset}`;
      if (invalid) {
        return makeError(
          'ERR_RINGNET_FRAME_INVALID',
          `ringnet: invalid frame: ${field} gives a frame of ${size} bytes (lengthAdjustment ${c.lengthAdjustment}), shorter than its ${head}-byte header or than initialBytesToStrip (${c.initialBytesToStrip})`,
        );
      }
      return tooLarge(`ringnet: frame too large: ${field} gives a length-field frame of ${atLeast}${size} bytes (header included), over maxFrameLength (${c.maxFrameLength} bytes)`);
    }
    case 'delimiter':
      return tooLarge(`ringnet: frame too large: the delimiter codec found no delimiter within maxFrameLength (${c.maxFrameLength} bytes) of ${atLeast}${size} bytes buffered`);
    case 'line':
      return tooLarge(`ringnet: frame too large: the line codec found no line end within maxFrameLength (${c.maxFrameLength} bytes) of ${atLeast}${size} bytes buffered`);
    default:
      return tooLarge(`ringnet: frame too large (fixed codec, frameLength ${c.frameLength})`);
  }
}
