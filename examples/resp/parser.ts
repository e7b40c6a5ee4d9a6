// A RESP2 request parser (what redis-server reads): multibulk (`*N\r\n$len\r\n…`)
// and inline commands (`PING\r\n`, space-separated, with Redis's quoting).
// Written for ringnet's zero-copy inbound view: a parsed command is a list of
// (start, end) offsets into the bytes as they arrived — no Buffer, no copy,
// no string until a command asks for one. Only an inline command with quotes
// or escapes is copied (its arguments are unescaped into a fresh buffer).
//
// parseCommand() is pure and restartable: called again with more bytes, it
// walks the length prefixes only (a large bulk is skipped over, not scanned).

/** Limits of the parser, as Redis's. */
export interface RespLimits {
  /** Most arguments in one multibulk (Redis: 1024*1024). */
  maxArgs: number;
  /** Longest bulk argument (Redis: proto-max-bulk-len, 512 MB; here 16 MiB). */
  maxBulk: number;
  /** Longest inline command (Redis: 64 KiB). */
  maxInline: number;
}

export const DEFAULT_RESP_LIMITS: RespLimits = { maxArgs: 1024 * 1024, maxBulk: 16 << 20, maxInline: 64 * 1024 };

/** parseCommand(): more bytes are needed. */
export const NEED_MORE = 0;
/** parseCommand(): a protocol error; the message is in `cmd.error`. */
export const PROTOCOL_ERROR = -1;

/** One command: `argc` arguments, argument i is `buf[start[i], end[i])`. Reused. */
export class RespCommand {
  argc = 0;
  buf: Buffer = Buffer.alloc(0);
  start = new Int32Array(16);
  end = new Int32Array(16);
  /** The protocol error, after PROTOCOL_ERROR (Redis's wording, no '-ERR '). */
  error = '';

  /** @internal room for n arguments */
  reserve(n: number): void {
    if (n <= this.start.length) return;
    let cap = this.start.length;
    while (cap < n) cap *= 2;
    const s = new Int32Array(cap);
    const e = new Int32Array(cap);
    s.set(this.start);
    e.set(this.end);
    this.start = s;
    this.end = e;
  }

  /** Argument i as a latin1 string (binary-safe: one char per byte). */
  str(i: number): string {
    return this.buf.latin1Slice(this.start[i], this.end[i]);
  }

  /** Byte length of argument i. */
  len(i: number): number {
    return this.end[i] - this.start[i];
  }

  /** Whether argument i equals lowercase ASCII `lit`, ignoring case. */
  is(i: number, lit: string): boolean {
    const s = this.start[i];
    if (this.end[i] - s !== lit.length) return false;
    const b = this.buf;
    for (let k = 0; k < lit.length; k++) {
      let c = b[s + k];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== lit.charCodeAt(k)) return false;
    }
    return true;
  }
}

// A decimal integer in b[p, e) (optional '-'); NaN when it is not one.
function int(b: Buffer, p: number, e: number): number {
  if (p === e) return NaN;
  let neg = false;
  if (b[p] === 0x2d) {
    neg = true;
    p++;
    if (p === e) return NaN;
  }
  if (e - p > 15) return NaN;
  let v = 0;
  for (; p < e; p++) {
    const d = b[p] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

/**
 * Parse one command at `b[off, end)`. Returns the offset past it (an empty
 * inline line or `*0` gives argc 0), {@link NEED_MORE}, or {@link PROTOCOL_ERROR}
 * (`cmd.error` says why; Redis replies with it and closes the connection).
 */
export function parseCommand(b: Buffer, off: number, end: number, cmd: RespCommand, lim: RespLimits = DEFAULT_RESP_LIMITS): number {
  if (off >= end) return NEED_MORE;
  if (b[off] !== 0x2a) return parseInline(b, off, end, cmd, lim);
  // *<count>\r\n
  let p = off + 1;
  let nl = p;
  while (nl < end && b[nl] !== 0x0d) {
    if (nl - p > 16) {
      cmd.error = 'Protocol error: invalid multibulk length';
      return PROTOCOL_ERROR;
    }
    nl++;
  }
  if (nl + 1 >= end) return NEED_MORE;
  const count = int(b, p, nl);
  if (b[nl + 1] !== 0x0a || Number.isNaN(count) || count > lim.maxArgs) {
    cmd.error = 'Protocol error: invalid multibulk length';
    return PROTOCOL_ERROR;
  }
  p = nl + 2;
  cmd.buf = b;
  if (count <= 0) {
    cmd.argc = 0;
    return p;
  }
  cmd.reserve(count);
  const st = cmd.start;
  const en = cmd.end;
  for (let i = 0; i < count; i++) {
    if (p >= end) return NEED_MORE;
    if (b[p] !== 0x24) {
      cmd.error = `Protocol error: expected '$', got '${String.fromCharCode(b[p])}'`;
      return PROTOCOL_ERROR;
    }
    const l0 = p + 1;
    nl = l0;
    while (nl < end && b[nl] !== 0x0d) {
      if (nl - l0 > 16) {
        cmd.error = 'Protocol error: invalid bulk length';
        return PROTOCOL_ERROR;
      }
      nl++;
    }
    if (nl + 1 >= end) return NEED_MORE;
    const len = int(b, l0, nl);
    if (b[nl + 1] !== 0x0a || Number.isNaN(len) || len < 0 || len > lim.maxBulk) {
      cmd.error = 'Protocol error: invalid bulk length';
      return PROTOCOL_ERROR;
    }
    const d = nl + 2;
    if (d + len + 2 > end) return NEED_MORE;
    if (b[d + len] !== 0x0d || b[d + len + 1] !== 0x0a) {
      // Redis reads exactly len bytes and then expects CRLF; anything else is a bad length.
      cmd.error = 'Protocol error: invalid bulk length';
      return PROTOCOL_ERROR;
    }
    st[i] = d;
    en[i] = d + len;
    p = d + len + 2;
  }
  cmd.argc = count;
  return p;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c || c === 0x0d;
}

function unbalanced(cmd: RespCommand): number {
  cmd.error = 'Protocol error: unbalanced quotes in request';
  return PROTOCOL_ERROR;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

// Inline: a line of arguments separated by blanks, sdssplitargs() rules:
// "double quoted" with \n \r \t \b \a \\ \" \xHH, 'single quoted' with \'; a
// closing quote must be followed by a blank or the end.
function parseInline(b: Buffer, off: number, end: number, cmd: RespCommand, lim: RespLimits): number {
  let nl = off;
  while (nl < end && b[nl] !== 0x0a) nl++;
  if (nl === end) {
    if (end - off > lim.maxInline) {
      cmd.error = 'Protocol error: too big inline request';
      return PROTOCOL_ERROR;
    }
    return NEED_MORE;
  }
  if (nl - off > lim.maxInline) {
    cmd.error = 'Protocol error: too big inline request';
    return PROTOCOL_ERROR;
  }
  let e = nl;
  if (e > off && b[e - 1] === 0x0d) e--;
  // Fast path: no quotes, arguments are views.
  let quoted = false;
  for (let i = off; i < e; i++) if (b[i] === 0x22 || b[i] === 0x27) { quoted = true; break; }
  let argc = 0;
  if (!quoted) {
    cmd.buf = b;
    let p = off;
    for (;;) {
      while (p < e && isSpace(b[p])) p++;
      if (p >= e) break;
      const s = p;
      while (p < e && !isSpace(b[p])) p++;
      cmd.reserve(argc + 1);
      cmd.start[argc] = s;
      cmd.end[argc] = p;
      argc++;
    }
    cmd.argc = argc;
    return nl + 1;
  }
  const out = Buffer.allocUnsafe(e - off);
  let o = 0;
  let p = off;
  for (;;) {
    while (p < e && isSpace(b[p])) p++;
    if (p >= e) break;
    const s = o;
    let inq = 0; // 0, '"' or '\''
    for (;;) {
      if (p >= e) {
        if (inq !== 0) return unbalanced(cmd);
        break;
      }
      const c = b[p];
      if (inq === 0x22) {
        if (c === 0x5c && p + 3 < e && b[p + 1] === 0x78 && hexVal(b[p + 2]) >= 0 && hexVal(b[p + 3]) >= 0) {
          out[o++] = hexVal(b[p + 2]) * 16 + hexVal(b[p + 3]);
          p += 4;
        } else if (c === 0x5c && p + 1 < e) {
          const n = b[p + 1];
          out[o++] = n === 0x6e ? 0x0a : n === 0x72 ? 0x0d : n === 0x74 ? 0x09 : n === 0x62 ? 0x08 : n === 0x61 ? 0x07 : n;
          p += 2;
        } else if (c === 0x22) {
          // A closing quote must end the argument (Redis's sdssplitargs rule).
          if (++p < e && !isSpace(b[p])) return unbalanced(cmd);
          break;
        } else {
          out[o++] = c;
          p++;
        }
      } else if (inq === 0x27) {
        if (c === 0x5c && p + 1 < e && b[p + 1] === 0x27) {
          out[o++] = 0x27;
          p += 2;
        } else if (c === 0x27) {
          // A closing quote must end the argument (Redis's sdssplitargs rule).
          if (++p < e && !isSpace(b[p])) return unbalanced(cmd);
          break;
        } else {
          out[o++] = c;
          p++;
        }
      } else if (isSpace(c)) {
        break;
      } else if (c === 0x22 || c === 0x27) {
        inq = c;
        p++;
      } else {
        out[o++] = c;
        p++;
      }
    }
    cmd.reserve(argc + 1);
    cmd.start[argc] = s;
    cmd.end[argc] = o;
    argc++;
  }
  cmd.buf = out;
  cmd.argc = argc;
  return nl + 1;
}
