import type { LoopCore } from './loop';
import type { PeerCertificate, TlsInfo } from './tls';
import type { ResolvedCodec } from './codec';
import { makeError, RingnetError } from './errors';
import { viewOf } from './view';
import { addon } from './native';
import {
  CF_CLOSING, CF_PAUSED, CT_BUF, CT_END, CT_FD, CT_FLAGS, CT_GEN, CT_OUT, CT_START, CT_STRIDE, OP_CLOSE,
  OP_RESUME, OP_SHUTDOWN_WR, OP_TIMEOUT, TASK_CLOSE, TASK_WAKE, TASK_WRITE, TMO_IDLE, TMO_READ, TMO_WRITE,
  COPT_KEEPALIVE, COPT_NODELAY, COPT_RCVBUF, COPT_SNDBUF,
} from './layout';

/** Data a connection can send: bytes, or a string (sent as UTF-8). */
export type Data = Uint8Array | ArrayBufferView | ArrayBuffer | string;

/** A socket address as reported by the engine. */
export interface SocketAddress {
  /** `'unix'` for a Unix domain socket: `address` is its path (`'@name'`: abstract; `''`: unnamed), `port` 0. */
  family: 'IPv4' | 'IPv6' | 'unix';
  address: string;
  port: number;
}

/** Who is at the other end of a Unix domain socket (`SO_PEERCRED`, `getpeereid`). */
export interface PeerCredentials {
  /** Process id when the OS says (Linux, macOS); -1 elsewhere. */
  pid: number;
  uid: number;
  gid: number;
}

/**
 * A transferable name of a connection: send it to another thread (a pool worker,
 * another loop) and use it with {@link asyncWrite}, {@link asyncClose} or
 * {@link wake}. It never reaches a newer connection that reuses the slot.
 */
export interface ConnHandle {
  readonly loop: number;
  readonly slot: number;
  readonly gen: number;
}

const EMPTY = Buffer.alloc(0);

// Node's convention for a number out of its range: a RangeError, code ERR_OUT_OF_RANGE.
function outOfRange(what: string, n: unknown): RangeError {
  const e = new RangeError(`ringnet: ${what}(n): n must be a number >= 0, got ${typeof n === 'string' ? `the string '${n}'` : String(n)}`) as RangeError & { code: string };
  e.code = 'ERR_OUT_OF_RANGE';
  return e;
}

// With a codec, inbound bytes are the codec's: frames go to onMessage.
function codecOwnsInput(what: string): Error {
  return makeError('ERR_RINGNET_HAS_CODEC', `ringnet: ${what} on a connection with a codec: its inbound bytes arrive as frames, in onMessage(conn, frame)`);
}

function closedError(what: string): Error {
  return makeError('ERR_RINGNET_CONN_CLOSED', `ringnet: ${what} on a closed connection`);
}

/**
 * One TCP connection, owned by one event loop. Loop-only methods (`peek`, `next`,
 * `write`, …) must be called on the loop's thread; they throw
 * `ERR_RINGNET_CONN_CLOSED` once the connection is closed. `asyncWrite`, `wake`
 * and `close` are also available from other threads through {@link Conn.handle}.
 *
 * Buffers returned by `peek`/`next` are views on the connection's inbound memory,
 * not copies: they are valid until the data is discarded and the callback returns.
 * Copy them (`Buffer.from(view)`) to keep them longer.
 */
export class Conn {
  /** Anything you want to attach to the connection. */
  context: unknown = undefined;
  /** @internal */ readonly slot: number;
  /** @internal */ readonly gen: number;
  /** @internal */ readonly core: LoopCore;
  /** @internal */ readonly row: number;
  /** @internal */ closed = false;
  /** @internal */ closing = false;
  /** @internal */ error: RingnetError | undefined = undefined;
  /** @internal the peer's FIN was delivered (EV_END) */ ended = false;
  /** @internal bytes recorded for flush but not yet applied, valid while epoch matches */
  pending = 0;
  /** @internal */ epoch = 0;
  /** @internal the connection's framing codec (onMessage), if any */ codec: ResolvedCodec | undefined = undefined;
  /** @internal frames wait for the next batch (FR_MORE): an EV_END waits for them */ framesPending = false;
  /** @internal an EV_END came while frames were pending */ endDeferred = false;
  private local: SocketAddress | null | undefined = undefined;
  private remote: SocketAddress | null | undefined = undefined;
  private tlsState: TlsInfo | null | undefined = undefined;
  private handleObj: ConnHandle | undefined = undefined;

  /** True for a connection this side opened ({@link Engine.dial}), false for an accepted one. */
  readonly dialed: boolean;

  /** @internal */
  constructor(core: LoopCore, slot: number, gen: number, dialed = false) {
    this.dialed = dialed;
    this.core = core;
    this.slot = slot;
    this.gen = gen;
    this.row = slot * CT_STRIDE;
  }

  /** @internal throws if the connection is closed or its slot was reused. */
  check(what: string): void {
    if (this.closed || this.core.ct[this.row + CT_GEN] !== this.gen) throw closedError(what);
  }

  /** Bytes received and not yet consumed. */
  get inboundBuffered(): number {
    if (this.closed) return 0;
    const ct = this.core.ct;
    return ct[this.row + CT_END] - ct[this.row + CT_START];
  }

  /** Bytes written and not yet taken by the kernel. */
  get outboundBuffered(): number {
    if (this.closed) return 0;
    return this.core.ct[this.row + CT_OUT] + (this.epoch === this.core.epoch ? this.pending : 0);
  }

  /** Index of the event loop that owns this connection. */
  get loopIndex(): number {
    return this.core.index;
  }

  /** The OS file descriptor (for diagnostics; do not read or write it directly). */
  get fd(): number {
    return this.closed ? -1 : this.core.ct[this.row + CT_FD];
  }

  /**
   * The peer has finished sending (its FIN arrived; `onEnd` was called). With
   * `allowHalfOpen` the connection may still be written to.
   */
  get readEnded(): boolean {
    return this.ended;
  }

  /** Whether the connection is still open (not closed, and not closing). */
  get isOpen(): boolean {
    const ct = this.core.ct;
    return !this.closed && !this.closing && ct[this.row + CT_GEN] === this.gen && (ct[this.row + CT_FLAGS] & CF_CLOSING) === 0;
  }

  /** The local address, or null once closed. */
  get localAddr(): SocketAddress | null {
    if (this.local === undefined && !this.closed) this.local = this.core.native.connAddr(this.slot, this.gen, false);
    return this.local ?? null;
  }

  /** The peer's address, or null once closed. */
  get remoteAddr(): SocketAddress | null {
    if (this.remote === undefined && !this.closed) this.remote = this.core.native.connAddr(this.slot, this.gen, true);
    return this.remote ?? null;
  }

  /**
   * The peer's process, user and group for a Unix domain socket connection (as
   * of its connect; `SO_PEERCRED` on Linux, `getpeereid` on macOS and the BSDs);
   * null for TCP or once closed.
   */
  get peerCredentials(): PeerCredentials | null {
    if (this.closed || this.core.ct[this.row + CT_GEN] !== this.gen) return null;
    if (this.remoteAddr?.family !== 'unix') return null;
    return addon.peerCredentials(this.core.ct[this.row + CT_FD]);
  }

  // The negotiated TLS state, read once (renegotiation is refused: it cannot change).
  private tls(): TlsInfo | null {
    if (this.tlsState === undefined && !this.closed) this.tlsState = this.core.native.tlsInfo(this.slot, this.gen);
    return this.tlsState ?? null;
  }

  /** Whether this connection speaks TLS (it came through a `tls://` listener or dial). */
  get encrypted(): boolean {
    return this.tls() !== null;
  }

  /** The ALPN protocol agreed in the handshake (`'h2'`), or false when none was (node:tls's `alpnProtocol`). */
  get alpnProtocol(): string | false {
    const t = this.tls();
    return t && t.alpn !== '' ? t.alpn : false;
  }

  /** The TLS version (`'TLSv1.3'`), or null for a plain connection (node:tls's `getProtocol()`). */
  get tlsVersion(): string | null {
    return this.tls()?.protocol ?? null;
  }

  /** The cipher's OpenSSL name, or null for a plain connection. */
  get tlsCipher(): string | null {
    return this.tls()?.cipher ?? null;
  }

  /** The server name the client sent (SNI), or false when it sent none. */
  get servername(): string | false {
    const t = this.tls();
    return t && t.servername !== '' ? t.servername : false;
  }

  /** Whether the session was resumed (session id or ticket). */
  get tlsSessionReused(): boolean {
    return this.tls()?.reused ?? false;
  }

  /** Whether the peer's certificate verified against `ca` (mTLS; false when it sent none). */
  get authorized(): boolean {
    return this.tls()?.authorized ?? false;
  }

  /** Why the peer's certificate did not verify (`'CERT_HAS_EXPIRED'` …), when `requestCert` and not `rejectUnauthorized`. */
  get authorizationError(): string | undefined {
    return this.tls()?.authorizationError;
  }

  /**
   * A `tls://` dial's session, to resume with later (`dial(addr, { session })`):
   * DER bytes, or null when there is none yet (TLS 1.3 servers send their
   * ticket after the handshake: read it once the server has sent something),
   * for a server-side or plain connection, or once closed. node:tls's `getSession()`.
   */
  get tlsSession(): Buffer | null {
    return this.closed ? null : this.core.native.tlsSession(this.slot, this.gen);
  }

  /** The peer's certificate (a dialed server's, or an mTLS client's), or null when it sent none; node:tls's `getPeerCertificate()` fields. */
  get peerCertificate(): PeerCertificate | null {
    return this.tls()?.peer ?? null;
  }

  /** A transferable name for cross-thread operations. */
  get handle(): ConnHandle {
    if (!this.handleObj) this.handleObj = Object.freeze({ loop: this.core.native.id, slot: this.slot, gen: this.gen });
    return this.handleObj;
  }

  /**
   * View of up to `n` unconsumed inbound bytes (all of them without `n`), without
   * consuming them. Shorter than `n` when fewer bytes are buffered. A negative or
   * NaN `n` throws a `RangeError` (`ERR_OUT_OF_RANGE`), as in `next` and `discard`.
   */
  peek(n?: number): Buffer {
    this.check('peek()');
    if (this.codec !== undefined) throw codecOwnsInput('peek()');
    if (n !== undefined && !(n >= 0)) throw outOfRange('peek', n);
    const ct = this.core.ct;
    const start = ct[this.row + CT_START];
    const avail = ct[this.row + CT_END] - start;
    if (avail <= 0) return EMPTY;
    const len = n === undefined || n > avail ? avail : n < 0 ? 0 : n;
    const core = this.core;
    const ab = core.buffers[ct[this.row + CT_BUF]] as ArrayBuffer;
    const view = viewOf(ab, start, len);
    if (ab === core.arena) core.arenaView = view;
    return view;
  }

  /** Like {@link peek}, and consumes the bytes returned. */
  next(n?: number): Buffer {
    if (n !== undefined && !(n >= 0)) throw outOfRange('next', n);
    const view = this.peek(n);
    if (view.length > 0) this.advance(view.length);
    return view;
  }

  /** Consume up to `n` inbound bytes; returns how many were discarded. */
  discard(n: number): number {
    this.check('discard()');
    if (this.codec !== undefined) throw codecOwnsInput('discard()');
    if (!(n >= 0)) throw outOfRange('discard', n);
    const avail = this.inboundBuffered;
    const k = n > avail ? avail : n < 0 ? 0 : Math.floor(n);
    if (k > 0) this.advance(k);
    return k;
  }

  /** Copy inbound bytes into `into` and consume them; returns the count copied. */
  read(into: Uint8Array): number {
    const view = this.peek(into.length);
    into.set(view);
    if (view.length > 0) this.advance(view.length);
    return view.length;
  }

  private advance(k: number): void {
    const ct = this.core.ct;
    ct[this.row + CT_START] += k;
    // Consumed while reading is paused at the inbound cap: ask the loop to read
    // again. Inside a batch too: native un-pauses by itself only the connections
    // that got EV_DATA in the batch, not one consumed from onWritable or wake()
    // (issue 8, item 1: such a connection never read again).
    if (ct[this.row + CT_FLAGS] & CF_PAUSED) this.core.record(this, OP_RESUME, 0, 0);
  }

  /**
   * Queue `data` to be sent. Nothing reaches the kernel until the current batch of
   * callbacks ends (or {@link flush}): many writes become one syscall. Returns
   * false when outbound bytes are over `writeBufferCap` — slow down until
   * `onWritable`. The bytes are taken (copied or sent) before this returns to the
   * event loop; the caller may reuse `data` after the callback.
   */
  write(data: Data): boolean {
    this.check('write()');
    if (this.closing || this.core.ct[this.row + CT_FLAGS] & CF_CLOSING) throw closedError('write() after close()');
    this.core.write(this, data);
    return this.outboundBuffered < this.core.writeBufferCap;
  }

  /**
   * Write `data` as one frame of the connection's codec (the `codec` option):
   * a length-field header before it (`lengthFieldOffset` zero bytes, then the
   * field, so the peer's decoder with the same spec gets `data` back), the first
   * delimiter after it (delimiter codec) or the `lineEnding` (line codec); a
   * fixed codec's frame must be `frameLength` bytes. Queued like {@link write}
   * (the same copies: none for a large payload) and returns what it returns.
   * Throws `ERR_RINGNET_FRAME_TOO_LARGE` (nothing written) when the frame is over
   * `maxFrameLength` or its length does not fit the field, and
   * `ERR_RINGNET_NO_CODEC` on a connection without a codec.
   */
  writeFrame(data: Data): boolean {
    this.check('writeFrame()');
    if (this.closing || this.core.ct[this.row + CT_FLAGS] & CF_CLOSING) throw closedError('writeFrame() after close()');
    if (this.codec === undefined) throw makeError('ERR_RINGNET_NO_CODEC', 'ringnet: writeFrame() on a connection without a codec (set the codec option of serve, createClient or dial)');
    this.core.writeFrame(this, this.codec, data);
    return this.outboundBuffered < this.core.writeBufferCap;
  }

  /** Write several chunks in order (one syscall when flushed). */
  writev(list: readonly Data[]): boolean {
    this.check('writev()');
    if (this.closing || this.core.ct[this.row + CT_FLAGS] & CF_CLOSING) throw closedError('writev() after close()');
    for (const d of list) this.core.write(this, d);
    return this.outboundBuffered < this.core.writeBufferCap;
  }

  /** Send queued bytes now instead of at the end of the batch. */
  flush(): void {
    this.check('flush()');
    this.core.flushNow();
  }

  /**
   * Close the connection after queued bytes are sent. `onClose` follows. Safe to
   * call more than once, and on a closed connection (no-op).
   */
  close(): void {
    if (this.closed || this.closing || this.core.ct[this.row + CT_GEN] !== this.gen) return;
    this.closing = true;
    this.core.record(this, OP_CLOSE, 0, 0);
  }

  /** Half-close: send queued bytes, then FIN; reading continues. */
  shutdownWrite(): void {
    this.check('shutdownWrite()');
    this.core.record(this, OP_SHUTDOWN_WR, 0, 0);
  }

  /** Close at once with a TCP RST, dropping queued bytes. */
  reset(): void {
    if (this.closed || this.core.ct[this.row + CT_GEN] !== this.gen) return;
    this.closing = true;
    this.core.flushNow();
    this.core.native.reset(this.slot, this.gen);
    this.core.dispatchPending();
  }

  /**
   * Close (or call `onTimeout` with `'idle'`) after `ms` without a byte in either
   * direction; the clock starts now and restarts with every byte read or sent.
   * 0 switches it off. Replaces the engine's `idleTimeout` for this connection.
   * Fires within one wheel tick (10 ms) after the deadline, never before.
   */
  setIdleTimeout(ms: number): void {
    this.setTimeout('setIdleTimeout()', TMO_IDLE, ms);
  }

  /** Like {@link setIdleTimeout}, counting inbound bytes only (`onTimeout` kind `'read'`). */
  setReadTimeout(ms: number): void {
    this.setTimeout('setReadTimeout()', TMO_READ, ms);
  }

  /**
   * Time out (`'write'`) when bytes queued for this connection wait `ms` without the
   * queue draining: a peer that stops reading. The clock starts when bytes are
   * queued on an empty queue (or now, if some wait already) and stops when it drains.
   */
  setWriteTimeout(ms: number): void {
    this.setTimeout('setWriteTimeout()', TMO_WRITE, ms);
  }

  private setTimeout(what: string, kind: number, ms: number): void {
    this.check(what);
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 2 ** 31 - 1) {
      throw makeError('ERR_RINGNET_INVALID_ARG', `ringnet: ${what} takes an integer number of ms in 0..2147483647, got ${String(ms)}`);
    }
    this.core.record(this, OP_TIMEOUT, kind, ms);
  }

  /** Enable or disable Nagle's algorithm (TCP_NODELAY is on by default). */
  setNoDelay(noDelay = true): void {
    this.check('setNoDelay()');
    this.core.native.connOpt(this.slot, this.gen, COPT_NODELAY, noDelay ? 1 : 0);
  }

  /** Enable TCP keep-alive; `initialDelay` in seconds (0: system default). */
  setKeepAlive(enable = true, initialDelay = 0): void {
    this.check('setKeepAlive()');
    this.core.native.connOpt(this.slot, this.gen, COPT_KEEPALIVE, enable ? 1 : 0, Math.floor(initialDelay));
  }

  /** Set the socket's receive buffer size (SO_RCVBUF) in bytes. */
  setReadBuffer(bytes: number): void {
    this.check('setReadBuffer()');
    this.core.native.connOpt(this.slot, this.gen, COPT_RCVBUF, bytes);
  }

  /** Set the socket's send buffer size (SO_SNDBUF) in bytes. */
  setWriteBuffer(bytes: number): void {
    this.check('setWriteBuffer()');
    this.core.native.connOpt(this.slot, this.gen, COPT_SNDBUF, bytes);
  }

  /**
   * Write from outside the loop's current callback, safe at any time on the loop's
   * thread; `cb(err)` runs on the loop when the bytes were handed to the kernel or
   * queued. From other threads use {@link asyncWrite} with {@link Conn.handle}.
   */
  asyncWrite(data: Data, cb?: (err?: Error) => void): void {
    if (this.closed || this.closing) {
      if (cb) queueMicrotask(() => cb(closedError('asyncWrite()')));
      return;
    }
    this.core.post(this, TASK_WRITE, toBytes(data), cb);
  }

  /** {@link asyncWrite} for several chunks. */
  asyncWritev(list: readonly Data[], cb?: (err?: Error) => void): void {
    this.asyncWrite(Buffer.concat(list.map(toBytes)), cb);
  }

  /** Ask the loop to call `onTraffic` for this connection. */
  wake(): void {
    if (!this.closed) this.core.post(this, TASK_WAKE);
  }

  /** @internal */
  postClose(): void {
    if (!this.closed) this.core.post(this, TASK_CLOSE);
  }
}

/** @internal bytes of any Data value, without copying when it is already bytes. */
export function toBytes(data: Data): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw makeError('ERR_INVALID_ARG_TYPE', 'ringnet: data must be a string, Buffer, TypedArray, DataView or ArrayBuffer');
}
