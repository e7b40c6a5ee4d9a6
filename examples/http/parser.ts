// An HTTP/1.1 request parser (RFC 9112) that works over ringnet's zero-copy
// inbound view. Why our own and not llhttp: Node's llhttp is not public API
// (process.binding('http_parser') is internal and calls back into JS once per
// header), and a dependency would copy every request into its own buffers.
// This one reads the bytes where ringnet put them: a request costs no Buffer
// and no copy, header names and values are (start, end) offsets into the view,
// and strings are made only for the method (interned), the target, and the
// headers a handler asks for.
//
// parseRequest() is pure: given the bytes buffered so far it says "complete
// (ends here)", "need more bytes" or "reject with status N". It is resumable:
// `scan` remembers how far the search for the end of the head got, so a head
// that arrives one byte at a time is scanned once, not once per byte.

/** Limits a server enforces while parsing. */
export interface HttpLimits {
  /** Request line + headers, in bytes; over it: 431. */
  maxHeaderBytes: number;
  /** Header fields; more: 431. */
  maxHeaders: number;
  /** Body bytes (decoded, for chunked); over it: 413. */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: HttpLimits = { maxHeaderBytes: 8192, maxHeaders: 100, maxBodyBytes: 1 << 20 };

const EMPTY = Buffer.alloc(0);

// RFC 9110 tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'];
const METHOD_BYTES = METHODS.map((m) => Buffer.from(m, 'latin1'));

/** Result codes of {@link parseRequest} besides a positive end offset. */
export const NEED_MORE = 0;

/**
 * One parsed request. The server reuses one object per loop: a route handler
 * must not keep it (or `body`, a view on inbound memory) after it returns —
 * copy what it needs (`Buffer.from(req.body)`).
 */
export class HttpRequest {
  /** `GET`, `POST`, … */
  method = '';
  /** The request target as sent (`/path?query`). */
  target = '';
  /** The target up to `?`. */
  path = '';
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1;
  /** Whether the connection stays open after the response. */
  keepAlive = true;
  /** Content-Length, or -1 without one. */
  contentLength = -1;
  /** Transfer-Encoding: chunked. */
  chunked = false;
  /** Expect: 100-continue. */
  expectContinue = false;
  /** The body (a view for Content-Length and single-chunk bodies; a copy when chunks are joined). */
  body: Buffer = EMPTY;
  /** Number of header fields. */
  headerCount = 0;
  /** @internal the bytes the offsets point into */
  buf: Buffer = EMPTY;
  /** @internal 4 ints per header: name start, name end, value start, value end */
  hdr: Int32Array;
  /** @internal where the head ends (the body starts) */
  headEnd = 0;
  /** @internal where the target starts and ends, and its '?' (or end) */
  qs = 0;
  qe = 0;

  constructor(limits: HttpLimits) {
    this.hdr = new Int32Array(limits.maxHeaders * 4);
  }

  /** The query string without `?` ('' when there is none). */
  get query(): string {
    return this.qs < this.qe ? this.buf.latin1Slice(this.qs + 1, this.qe) : '';
  }

  /** The first value of header `name` (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    const n = name.length;
    const b = this.buf;
    const h = this.hdr;
    outer: for (let i = 0; i < this.headerCount; i++) {
      const s = h[i * 4];
      if (h[i * 4 + 1] - s !== n) continue;
      for (let k = 0; k < n; k++) {
        let c = b[s + k];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        let d = name.charCodeAt(k);
        if (d >= 0x41 && d <= 0x5a) d |= 0x20;
        if (c !== d) continue outer;
      }
      return b.latin1Slice(h[i * 4 + 2], h[i * 4 + 3]);
    }
    return undefined;
  }

  /** All headers as [lowercased name, value] pairs (allocates; for diagnostics). */
  headers(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.headerCount; i++) {
      const h = this.hdr;
      out.push([this.buf.latin1Slice(h[i * 4], h[i * 4 + 1]).toLowerCase(), this.buf.latin1Slice(h[i * 4 + 2], h[i * 4 + 3])]);
    }
    return out;
  }
}

/** Where a resumable parse stands (kept per connection). */
export interface ParseState {
  /** How far (relative to the request's first byte) the end-of-head search got. */
  scan: number;
}

// Name comparison against a lowercase ASCII literal, ASCII case-insensitive.
function nameIs(b: Buffer, s: number, e: number, lit: string): boolean {
  if (e - s !== lit.length) return false;
  for (let k = 0; k < lit.length; k++) {
    let c = b[s + k];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lit.charCodeAt(k)) return false;
  }
  return true;
}

// Whether [s, e) holds comma-separated token `tok` (case-insensitive).
function hasToken(b: Buffer, s: number, e: number, tok: string): boolean {
  let i = s;
  while (i < e) {
    while (i < e && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x2c)) i++;
    let j = i;
    while (j < e && b[j] !== 0x2c) j++;
    let k = j;
    while (k > i && (b[k - 1] === 0x20 || b[k - 1] === 0x09)) k--;
    if (nameIs(b, i, k, tok)) return true;
    i = j + 1;
  }
  return false;
}

/**
 * Parse one request starting at `start` in `b[start, end)`.
 * Returns the offset just past the request (> start) when it is complete,
 * {@link NEED_MORE} when more bytes are needed, or -status (-400, -413, -417,
 * -431, -501, -505) when it must be rejected. `req` is filled when complete
 * (and partly on -413, enough to answer).
 */
export function parseRequest(b: Buffer, start: number, end: number, req: HttpRequest, st: ParseState, lim: HttpLimits): number {
  // Empty lines before the request line are ignored (RFC 9112 2.2).
  let p = start;
  while (p < end && (b[p] === 0x0d || b[p] === 0x0a)) {
    if (b[p] === 0x0d && p + 1 < end && b[p + 1] !== 0x0a) return -400;
    p++;
  }
  if (p - start > 64) return -400;
  if (p === end) return NEED_MORE;

  // Find the end of the head: an empty line. Resumes where the last call stopped.
  let i = start + st.scan;
  if (i < p) i = p;
  let headEnd = -1;
  const limit = start + lim.maxHeaderBytes;
  for (; i < end; i++) {
    if (b[i] !== 0x0a) continue;
    if (i + 1 < end && b[i + 1] === 0x0a) { headEnd = i + 2; break; }
    if (i + 2 < end && b[i + 1] === 0x0d && b[i + 2] === 0x0a) { headEnd = i + 3; break; }
    if (i + 2 >= end) break; // an LF near the end: look again when more arrives
  }
  if (headEnd < 0) {
    st.scan = i - start;
    if (end - start > lim.maxHeaderBytes) return -431;
    return NEED_MORE;
  }
  if (headEnd > limit) return -431;

  // Request line: method SP target SP HTTP/1.x
  const m0 = p;
  while (p < headEnd && TCHAR[b[p]] === 1) p++;
  if (p === m0 || b[p] !== 0x20) return -400;
  const mlen = p - m0;
  let method = '';
  for (let k = 0; k < METHODS.length; k++) {
    const mb = METHOD_BYTES[k];
    if (mb.length !== mlen) continue;
    let same = true;
    for (let j = 0; j < mlen; j++) if (b[m0 + j] !== mb[j]) { same = false; break; }
    if (same) { method = METHODS[k]; break; }
  }
  if (method === '') method = b.latin1Slice(m0, p);
  p++;
  const t0 = p;
  let q = -1;
  while (p < headEnd) {
    const c = b[p];
    if (c <= 0x20 || c === 0x7f) break;
    if (c === 0x3f && q < 0) q = p;
    p++;
  }
  if (p === t0 || b[p] !== 0x20) return -400;
  const t1 = p;
  p++;
  if (headEnd - p < 9 || b[p] !== 0x48 || b[p + 1] !== 0x54 || b[p + 2] !== 0x54 || b[p + 3] !== 0x50 || b[p + 4] !== 0x2f) return -400;
  const major = b[p + 5] - 0x30;
  const minor = b[p + 7] - 0x30;
  if (major < 0 || major > 9 || b[p + 6] !== 0x2e || minor < 0 || minor > 9) return -400;
  p += 8;
  if (b[p] === 0x0d) p++;
  if (b[p] !== 0x0a) return -400;
  p++;
  if (major !== 1) return -505;

  req.buf = b;
  req.method = method;
  req.minor = minor;
  req.target = b.latin1Slice(t0, t1);
  req.path = q < 0 ? req.target : b.latin1Slice(t0, q);
  req.qs = q < 0 ? t1 : q;
  req.qe = t1;
  req.keepAlive = minor >= 1;
  req.contentLength = -1;
  req.chunked = false;
  req.expectContinue = false;
  req.body = EMPTY;
  req.headEnd = headEnd;

  // Header fields.
  const h = req.hdr;
  const maxH = lim.maxHeaders;
  let n = 0;
  let hosts = 0;
  let te = false;
  let closeTok = false;
  let keepTok = false;
  while (true) {
    if (b[p] === 0x0d) {
      if (b[p + 1] !== 0x0a) return -400;
      p += 2;
      break;
    }
    if (b[p] === 0x0a) { p++; break; }
    const n0 = p;
    while (TCHAR[b[p]] === 1) p++;
    if (p === n0 || b[p] !== 0x3a) return -400; // no name, obs-fold, or space before ':'
    const n1 = p;
    p++;
    while (b[p] === 0x20 || b[p] === 0x09) p++;
    const v0 = p;
    let c = b[p];
    while (c !== 0x0d && c !== 0x0a) {
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return -400;
      c = b[++p];
    }
    let v1 = p;
    if (c === 0x0d) {
      if (b[p + 1] !== 0x0a) return -400;
      p += 2;
    } else p++;
    while (v1 > v0 && (b[v1 - 1] === 0x20 || b[v1 - 1] === 0x09)) v1--;
    if (n === maxH) return -431;
    const o = n * 4;
    h[o] = n0; h[o + 1] = n1; h[o + 2] = v0; h[o + 3] = v1;
    n++;

    // The headers the server acts on, recognized by length first.
    const len = n1 - n0;
    if (len === 4) {
      if (nameIs(b, n0, n1, 'host')) hosts++;
    } else if (len === 14) {
      if (nameIs(b, n0, n1, 'content-length')) {
        if (v1 === v0 || v1 - v0 > 15) return v1 === v0 ? -400 : -413;
        let v = 0;
        for (let k = v0; k < v1; k++) {
          const d = b[k] - 0x30;
          if (d < 0 || d > 9) return -400;
          v = v * 10 + d;
        }
        if (req.contentLength >= 0 && req.contentLength !== v) return -400;
        req.contentLength = v;
      }
    } else if (len === 17) {
      if (nameIs(b, n0, n1, 'transfer-encoding')) {
        if (te) return -400; // "chunked" twice, or a coding after chunked
        if (!nameIs(b, v0, v1, 'chunked')) return v1 === v0 ? -400 : -501;
        te = true;
      }
    } else if (len === 10) {
      if (nameIs(b, n0, n1, 'connection')) {
        if (hasToken(b, v0, v1, 'close')) closeTok = true;
        else if (hasToken(b, v0, v1, 'keep-alive')) keepTok = true;
      }
    } else if (len === 6) {
      if (nameIs(b, n0, n1, 'expect')) {
        if (!nameIs(b, v0, v1, '100-continue')) return -417;
        req.expectContinue = true;
      }
    }
  }
  req.headerCount = n;
  if (closeTok) req.keepAlive = false;
  else if (keepTok) req.keepAlive = true;
  if (minor >= 1 && hosts !== 1) return -400;
  if (hosts > 1) return -400;
  if (te) {
    if (req.contentLength >= 0 || minor === 0) return -400; // request smuggling guard
    req.chunked = true;
    return parseChunked(b, headEnd, end, req, lim);
  }
  if (req.contentLength > lim.maxBodyBytes) return -413;
  if (req.contentLength <= 0) return headEnd;
  const bodyEnd = headEnd + req.contentLength;
  if (bodyEnd > end) return NEED_MORE;
  req.body = b.subarray(headEnd, bodyEnd);
  return bodyEnd;
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1).
// Walks chunk headers only (chunk data is skipped over), so calling it again
// as more bytes arrive costs one step per chunk.
function parseChunked(b: Buffer, p: number, end: number, req: HttpRequest, lim: HttpLimits): number {
  const first = p;
  let total = 0;
  let chunks = 0;
  let one0 = 0;
  while (true) {
    // chunk-size [; ext] CRLF
    let size = 0;
    let digits = 0;
    for (;;) {
      if (p >= end) return NEED_MORE;
      const c = b[p];
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
      if (d < 0) break;
      if (++digits > 8) return -413;
      size = size * 16 + d;
      p++;
    }
    if (digits === 0) return -400;
    const lineStart = p;
    while (p < end && b[p] !== 0x0a) {
      const c = b[p];
      if ((c < 0x20 && c !== 0x09 && c !== 0x0d) || c === 0x7f) return -400;
      if (c === 0x0d && p + 1 < end && b[p + 1] !== 0x0a) return -400;
      if (p - lineStart > 1024) return -400; // chunk extensions we do not read: bounded
      p++;
    }
    if (p >= end) return NEED_MORE;
    if (b[lineStart] !== 0x3b && b[lineStart] !== 0x0d && b[lineStart] !== 0x0a && b[lineStart] !== 0x20 && b[lineStart] !== 0x09) return -400;
    p++;
    if (size === 0) break;
    total += size;
    if (total > lim.maxBodyBytes) return -413;
    if (chunks === 0) one0 = p;
    chunks++;
    p += size;
    if (p + 1 > end) return NEED_MORE;
    if (b[p] === 0x0d) {
      if (p + 2 > end) return NEED_MORE;
      if (b[p + 1] !== 0x0a) return -400;
      p += 2;
    } else if (b[p] === 0x0a) p++;
    else return -400;
    if (p - first > 2 * lim.maxBodyBytes + 65536) return -413; // framing overhead is bounded too
  }
  // trailer-section: header lines (ignored) up to an empty line, bounded.
  const t0 = p;
  for (;;) {
    if (p >= end) return NEED_MORE;
    if (b[p] === 0x0a) { p++; break; }
    if (b[p] === 0x0d) {
      if (p + 1 >= end) return NEED_MORE;
      if (b[p + 1] !== 0x0a) return -400;
      p += 2;
      break;
    }
    while (p < end && b[p] !== 0x0a) p++;
    if (p >= end) return p - t0 > lim.maxHeaderBytes ? -431 : NEED_MORE;
    p++;
    if (p - t0 > lim.maxHeaderBytes) return -431;
  }
  // The body: a view when it came in one chunk, else the chunks joined.
  if (chunks === 1) req.body = b.subarray(one0, one0 + total);
  else if (chunks > 1) {
    const out = Buffer.allocUnsafe(total);
    let q = first;
    let o = 0;
    for (;;) {
      let size = 0;
      for (;;) {
        const c = b[q];
        const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
        if (d < 0) break;
        size = size * 16 + d;
        q++;
      }
      while (b[q] !== 0x0a) q++;
      q++;
      if (size === 0) break;
      b.copy(out, o, q, q + size);
      o += size;
      q += size;
      q += b[q] === 0x0d ? 2 : 1;
    }
    req.body = out;
  }
  req.contentLength = total;
  return p;
}
