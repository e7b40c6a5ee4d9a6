// The JS side of one native loop: dispatches a batch of events to the handler in
// one native→JS call, records writes/closes for native to apply after the batch.
import { addon, NativeLoop, NativeLoopOptions } from './native';
import { Conn, Data, toBytes } from './conn';
import { Action, EventHandler, OpenResult, TimeoutKind } from './handler';
import { makeError, RingnetError } from './errors';
import { viewOf } from './view';
import { asError, handshakeError, loopError } from './loop-errors';
import { DialTable } from './loop-dials';
import { LoopStats, statsOf } from './stats';
import { checkFrame, encodeHeader, frameError, frameSuffix, headerLength, ResolvedCodec } from './codec';
import {
  EV_CLOSE, EV_COUNT, EV_DATA, EV_DIAL_FAIL, EV_END, EV_HEADER, EV_OPEN, EV_OVERFLOW, EV_STRIDE, EV_TASK_DONE, EV_TIMEOUT, EV_TLS_ERROR,
  EV_TLS_SNI, EV_WAKE, EV_WRITABLE, CT_BUF, CT_FRAMES, CT_START, FR_INVALID, FR_MORE, FR_STRIDE, FR_TOO_LARGE,
  OP_COUNT, OP_EPOCH, OP_HEADER, OP_REFS, OP_STAGED, OP_STRIDE, OP_WRITE, OP_WRITE_ARENA, OP_WRITE_REF,
} from './layout';

/** Writes up to this many bytes are copied into staging; larger ones are sent from the caller's memory. */
const COPY_MAX = 2048;

/** EV_TIMEOUT's arg (layout.h TMO_*) as the handler's kind. */
const TIMEOUT_KINDS: readonly TimeoutKind[] = ['idle', 'read', 'write'];

/** @internal what a loop needs from its engine */
export interface LoopOwner {
  shutdown(): void;
}

/** @internal */
export class LoopCore {
  readonly native: NativeLoop;
  readonly index: number;
  readonly ev: Int32Array;
  readonly ct: Int32Array;
  readonly ops: Int32Array;
  readonly staging: Buffer;
  readonly stats: Float64Array;
  /** The loop's buffers by native id (read arena, connection buffers, frames): their memory, offset 0. */
  readonly buffers: (ArrayBuffer | undefined)[] = [];
  /** The last arena view peek() made: write(conn.next()) is known by identity, not `.buffer` (a V8 runtime call). */
  arenaView: Uint8Array | undefined = undefined;
  readonly refs: Uint8Array[] = [];
  readonly conns: (Conn | undefined)[] = [];
  readonly writeBufferCap: number;
  readonly outboundLimit: number;
  inBatch = false;
  /** EV_TLS_SNI: a handshake waits for the TLS options' SNICallback (lib/tls.ts answerSni). */
  onSni: ((slot: number, gen: number) => void) | undefined;
  private flushScheduled = false;
  private readonly opsCap: number;
  private readonly stagingSize: number;
  private readonly callbacks = new Map<number, (err?: Error) => void>();
  private nextTag = 1;
  private readonly dials = new DialTable();
  /** The read arena's memory: a write of a view of it needs no copy and no reference. */
  readonly arena: ArrayBuffer | undefined;
  /** The codec of accepted connections (the engine's `codec` option). */
  readonly acceptCodec: ResolvedCodec | undefined;
  /** Native ids of the codecs registered, by ResolvedCodec.key. */
  private readonly codecIds = new Map<string, number>();
  /** The frames buffer (layout.h FR_*): each codec connection's frames of this batch. */
  private frames: Int32Array | undefined;

  constructor(opts: NativeLoopOptions, readonly handler: EventHandler, index: number, private readonly owner: LoopOwner) {
    this.index = index;
    this.writeBufferCap = opts.writeBufferCap;
    this.outboundLimit = opts.outboundLimit;
    this.native = new addon.Loop(
      { ...opts, timeoutEvents: typeof handler.onTimeout === 'function' },
      this.dispatch,
      this.buffers,
      this.refs,
    );
    const mem = this.native.memory;
    this.ev = new Int32Array(mem.events);
    this.ct = new Int32Array(mem.conns);
    this.ops = new Int32Array(mem.ops);
    this.staging = Buffer.from(mem.staging);
    this.stats = new Float64Array(mem.stats);
    this.opsCap = (this.ops.length - OP_HEADER) / OP_STRIDE;
    this.arena = this.buffers[this.native.arenaId];
    this.stagingSize = this.staging.length;
    this.acceptCodec = opts.codec;
    if (opts.codec) {
      try {
        this.checkOnMessage('the codec option');
        this.native.setAcceptCodec(this.codecId(opts.codec));
      } catch (e) {
        this.native.close();
        throw e;
      }
    }
  }

  /** A codec's native id on this loop, registered on first use. */
  codecId(c: ResolvedCodec): number {
    let id = this.codecIds.get(c.key);
    if (id === undefined) {
      id = this.native.addCodec(c);
      this.codecIds.set(c.key, id);
      if (!this.frames) {
        const b = this.buffers[this.native.framesId ?? -1] as ArrayBuffer;
        this.frames = new Int32Array(b, 0, b.byteLength >> 2);
      }
    }
    return id;
  }

  /** A codec needs onMessage: ERR_RINGNET_INVALID_HANDLER naming what asked for it. */
  checkOnMessage(what: string): void {
    if (typeof this.handler.onMessage !== 'function') {
      throw makeError('ERR_RINGNET_INVALID_HANDLER', `ringnet: ${what} needs a handler with onMessage(conn, frame): frames are delivered there, not to onTraffic`);
    }
  }

  /** Which backend the native loop runs on, and why it fell back if it did. */
  backendInfo(): { backend: string; backendFallback?: string } {
    const n = this.native;
    return n.backendFallback === undefined ? { backend: n.backend } : { backend: n.backend, backendFallback: n.backendFallback };
  }

  /** The epoch native bumps each time it applies ops (ops header word 3). */
  get epoch(): number {
    return this.ops[OP_EPOCH];
  }

  readStats(): LoopStats {
    return statsOf(this.stats);
  }

  // Called by native once per batch (and by JS after a flush that produced events).
  readonly dispatch = (): void => {
    const ev = this.ev;
    const nested = this.inBatch;
    this.inBatch = true;
    // ev[EV_COUNT] may grow while we go: a flush inside a handler can close connections.
    for (let i = 0; i < ev[EV_COUNT]; i++) {
      const r = EV_HEADER + i * EV_STRIDE;
      const slot = ev[r + 1];
      const gen = ev[r + 2];
      switch (ev[r]) {
        case EV_DATA: {
          const c = this.conns[slot];
          if (c !== undefined && c.gen === gen && !c.closing) {
            if (c.codec === undefined) this.traffic(c);
            else this.messages(c);
          }
          break;
        }
        case EV_OPEN:
          this.open(slot, gen, ev[r + 3]);
          break;
        case EV_DIAL_FAIL:
          this.dials.failed(this.native, slot, ev[r + 3]);
          break;
        case EV_CLOSE:
          this.closed(slot, gen, ev[r + 3]);
          break;
        case EV_WRITABLE: {
          const c = this.conns[slot];
          if (c !== undefined && c.gen === gen && this.handler.onWritable) this.call(c, this.handler.onWritable, c);
          break;
        }
        case EV_WAKE: {
          const c = this.conns[slot];
          if (c !== undefined && c.gen === gen && !c.closing) this.traffic(c);
          break;
        }
        case EV_TASK_DONE:
          this.taskDone(slot, ev[r + 3]);
          break;
        case EV_TIMEOUT: {
          const c = this.conns[slot];
          const h = this.handler;
          if (c !== undefined && c.gen === gen && !c.closing && h.onTimeout) {
            const kind = TIMEOUT_KINDS[ev[r + 3]];
            if (kind !== undefined) this.call2(c, h.onTimeout, c, kind);
          }
          break;
        }
        case EV_TLS_ERROR:
          this.tlsFailed(ev[r + 3]);
          break;
        case EV_TLS_SNI:
          this.onSni?.(slot, gen);
          break;
        case EV_END: {
          const c = this.conns[slot];
          if (c !== undefined && c.gen === gen) {
            c.ended = true;
            if (c.framesPending) c.endDeferred = true; // frames before the FIN come first (messages)
            else if (this.handler.onEnd && !c.closing) this.call(c, this.handler.onEnd, c);
          }
          break;
        }
      }
    }
    if (!nested) {
      ev[EV_COUNT] = 0;
      this.inBatch = false;
    }
  };

  private traffic(c: Conn): void {
    const h = this.handler;
    if (!h.onTraffic) {
      if (c.codec === undefined) c.discard(c.inboundBuffered);
      return;
    }
    try {
      const a = h.onTraffic(c);
      if (a) this.result(c, a);
    } catch (err) {
      this.fail(c, err);
    }
  }

  // A codec connection's EV_DATA: its frames of this batch, as native cut them
  // (loop/loop_codec.cc), each to onMessage as a view of the inbound memory;
  // CT_START moves past each frame before its call, so what is left over is a
  // partial frame (or frames for the next batch, FR_MORE).
  private messages(c: Conn): void {
    const fr = this.frames;
    const ct = this.ct;
    const row = c.row;
    const h = ct[row + CT_FRAMES];
    if (fr === undefined || h < 0 || h + FR_STRIDE > fr.length) {
      c.framesPending = true; // no room in this batch's frames buffer: another EV_DATA follows
      return;
    }
    const count = fr[h];
    const status = fr[h + 1];
    const buf = this.buffers[ct[row + CT_BUF]];
    const handler = this.handler;
    const onMessage = handler.onMessage!;
    let p = h + FR_STRIDE;
    if (buf !== undefined) {
      for (let k = 0; k < count && !c.closing && p + FR_STRIDE <= fr.length; k++, p += FR_STRIDE) {
        const off = fr[p];
        ct[row + CT_START] = fr[p + 2];
        try {
          const a = onMessage.call(handler, c, viewOf(buf, off, fr[p + 1]));
          if (a) this.result(c, a);
        } catch (err) {
          this.fail(c, err);
        }
      }
    }
    c.framesPending = status === FR_MORE;
    if (status === FR_TOO_LARGE || status === FR_INVALID) {
      // Gracefully: replies to the frames before it still go out.
      if (!c.closing) {
        c.error = frameError(c.codec, status === FR_INVALID, fr[h + 2]);
        c.close();
      }
      return;
    }
    if (!c.framesPending && c.endDeferred) {
      c.endDeferred = false;
      if (handler.onEnd && !c.closing) this.call(c, handler.onEnd, c);
    }
  }

  // A callback's return value: an Action, or a promise of one (async callbacks).
  // A rejection counts as a throw. Settling after the connection closed: a
  // rejection is reported as a warning, not lost; an Action is moot.
  private result(c: Conn, r: unknown, open = false): void {
    if (typeof r === 'number') {
      this.act(c, r);
    } else if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(
        (v) => {
          if (v && !c.closed) this.result(c, v, open);
        },
        (err) => {
          if (c.closed) process.emitWarning(asError(err));
          else this.fail(c, err);
        },
      );
    } else if (open && r) {
      const o = r as OpenResult;
      if (o.out !== undefined && !c.closing) c.write(o.out);
      if (o.action) this.act(c, o.action);
    }
  }

  private open(slot: number, gen: number, tag: number): void {
    const w = this.dials.take(tag);
    const c = new Conn(this, slot, gen, w !== undefined);
    if (w) c.context = w.context;
    c.codec = w ? w.codec : this.acceptCodec;
    this.conns[slot] = c;
    const h = this.handler;
    if (h.onOpen) {
      try {
        const r = h.onOpen(c);
        if (r) this.result(c, r, true);
      } catch (err) {
        this.fail(c, err);
      }
    }
    w?.resolve(c);
  }

  /**
   * Connect to a numeric host (transport/dialer.h on this loop): resolves to the
   * Conn once connected (after its onOpen), rejects with the errno's name as code.
   * timeout: ms on the loop's wheel, 0 = none.
   */
  dial(host: string, port: number, timeout: number, context: unknown, where: string, unix = false, codec?: ResolvedCodec, tls?: object): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const tag = this.dials.add({ resolve, reject, context, where, host, port, codec });
      try {
        if (codec) this.checkOnMessage("a dial's codec");
        this.native.dial(host, port, timeout, tag, unix, codec ? this.codecId(codec) : 0, tls);
      } catch (e) {
        this.dials.take(tag);
        reject(e);
      }
    });
  }

  /** Reject every dial still waiting (the loop is going away without a close_all). */
  rejectDials(err: Error): void {
    this.dials.rejectAll(err);
  }

  private closed(slot: number, gen: number, errno: number): void {
    const c = this.conns[slot];
    if (c === undefined || c.gen !== gen) return;
    this.conns[slot] = undefined;
    c.closed = true;
    let err = c.error;
    if (!err && errno !== 0) err = this.closeError(errno);
    const h = this.handler;
    if (!h.onClose) return;
    try {
      const a = err ? h.onClose(c, err) : h.onClose(c);
      if (a === Action.Shutdown) {
        this.owner.shutdown();
      } else if (a !== null && typeof a === 'object' && typeof a.then === 'function') {
        a.then(
          (v) => void (v === Action.Shutdown && this.owner.shutdown()),
          (e) => process.emitWarning(asError(e)),
        );
      }
    } catch (e) {
      process.emitWarning(asError(e));
    }
  }

  // EV_CLOSE / EV_TLS_ERROR / EV_TASK_DONE arg as an Error (lib/loop-errors.ts).
  private closeError(arg: number, what?: string): RingnetError {
    return loopError(this.native, this.outboundLimit, arg, what);
  }

  private tlsFailed(arg: number): void {
    const h = this.handler;
    if (!h.onTlsError) return;
    const err = handshakeError(this.closeError(arg));
    try {
      h.onTlsError(err);
    } catch (e) {
      process.emitWarning(asError(e));
    }
  }

  private call<A>(c: Conn, fn: (this: EventHandler, a: A) => unknown, arg: A): void {
    try {
      const a = fn.call(this.handler, arg);
      if (a) this.result(c, a);
    } catch (err) {
      this.fail(c, err);
    }
  }

  private call2<A, B>(c: Conn, fn: (this: EventHandler, a: A, b: B) => unknown, a: A, b: B): void {
    try {
      const r = fn.call(this.handler, a, b);
      if (r) this.result(c, r);
    } catch (err) {
      this.fail(c, err);
    }
  }

  private act(c: Conn, a: Action): void {
    if (a === Action.Close) c.close();
    else if (a === Action.Shutdown) this.owner.shutdown();
  }

  // A handler threw or rejected: onClose gets that error itself (a non-Error is
  // wrapped), with code ERR_RINGNET_HANDLER when it has no code of its own.
  private fail(c: Conn, err: unknown): void {
    if (!c.error) {
      const e = asError(err) as RingnetError;
      if (typeof e.code !== 'string' && Object.isExtensible(e)) {
        try {
          e.code = 'ERR_RINGNET_HANDLER';
        } catch {
          // a frozen or accessor 'code': pass it on as it is
        }
      }
      c.error = e;
    }
    c.close();
  }

  private taskDone(tag: number, errno: number): void {
    const cb = this.callbacks.get(tag);
    if (!cb) return;
    this.callbacks.delete(tag);
    try {
      cb(errno ? this.closeError(errno, 'ringnet: asyncWrite') : undefined);
    } catch (e) {
      process.emitWarning(e as Error);
    }
  }

  /** Record an op for native to apply after the batch (or at the next microtask). */
  record(c: Conn, op: number, a: number, b: number): void {
    const ops = this.ops;
    if (ops[OP_COUNT] >= this.opsCap) this.flushNow();
    const n = ops[OP_COUNT];
    const p = OP_HEADER + n * OP_STRIDE;
    ops[p] = op;
    ops[p + 1] = c.slot;
    ops[p + 2] = c.gen;
    ops[p + 3] = a;
    ops[p + 4] = b;
    ops[OP_COUNT] = n + 1;
    if (!this.inBatch && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  write(c: Conn, data: Data): void {
    const ops = this.ops;
    let len: number;
    if (typeof data === 'string') {
      const worst = data.length * 3;
      if (worst > COPY_MAX) {
        this.writeRef(c, Buffer.from(data, 'utf8'));
        return;
      }
      if (ops[OP_STAGED] + worst > this.stagingSize || ops[OP_COUNT] >= this.opsCap) this.flushNow();
      const off = ops[OP_STAGED];
      len = this.staging.write(data, off);
      if (len === 0) return;
      ops[OP_STAGED] = off + len;
      this.record(c, OP_WRITE, off, len);
    } else {
      const bytes = data instanceof Uint8Array ? data : toBytes(data);
      len = bytes.length;
      if (len === 0) return;
      if (this.inBatch && (bytes === this.arenaView || bytes.buffer === this.arena)) {
        // Echoing what was just read (write(conn.next())): native sends straight
        // from the arena, which stays put until the batch's ops are applied.
        this.record(c, OP_WRITE_ARENA, bytes.byteOffset, len);
        this.addPending(c, len);
        return;
      }
      if (len > COPY_MAX) {
        this.writeRef(c, bytes);
        return;
      }
      if (ops[OP_STAGED] + len > this.stagingSize || ops[OP_COUNT] >= this.opsCap) this.flushNow();
      const off = ops[OP_STAGED];
      this.staging.set(bytes, off);
      ops[OP_STAGED] = off + len;
      this.record(c, OP_WRITE, off, len);
    }
    this.addPending(c, len);
  }

  /**
   * conn.writeFrame: the codec's header (length-field) or suffix (delimiter,
   * line) around `data`, as consecutive writes: a small frame is one staging
   * copy (one iovec), a large payload is sent from the caller's memory as write()
   * does. Throws before writing anything when the frame cannot be encoded.
   */
  writeFrame(c: Conn, codec: ResolvedCodec, data: Data): void {
    const bytes = typeof data === 'string' ? undefined : data instanceof Uint8Array ? data : toBytes(data);
    const len = bytes === undefined ? Buffer.byteLength(data as string, 'utf8') : bytes.length;
    const head = headerLength(codec);
    checkFrame(codec, len); // throws before anything is written
    if (head > 0) {
      const ops = this.ops;
      if (ops[OP_STAGED] + head > this.stagingSize || ops[OP_COUNT] >= this.opsCap) this.flushNow();
      const off = ops[OP_STAGED];
      encodeHeader(codec, len, this.staging, off); // throws ERR_RINGNET_FRAME_TOO_LARGE
      ops[OP_STAGED] = off + head;
      this.record(c, OP_WRITE, off, head);
      this.addPending(c, head);
    }
    this.write(c, bytes ?? data);
    const suffix = frameSuffix(codec);
    if (suffix !== undefined) this.write(c, suffix);
  }

  // Large writes are not copied in JS: native sends straight from the caller's
  // memory after the batch and copies only what the socket does not take.
  private writeRef(c: Conn, bytes: Uint8Array): void {
    if (this.ops[OP_COUNT] >= this.opsCap) this.flushNow();
    const i = this.refs.length;
    this.refs.push(bytes);
    this.ops[OP_REFS] = i + 1;
    this.record(c, OP_WRITE_REF, i, bytes.length);
    this.addPending(c, bytes.length);
  }

  private addPending(c: Conn, len: number): void {
    const e = this.ops[OP_EPOCH];
    if (c.epoch !== e) {
      c.epoch = e;
      c.pending = 0;
    }
    c.pending += len;
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flushNow();
  };

  /** Apply recorded ops now; dispatch what that caused unless a batch is running. */
  flushNow(): void {
    if (this.ops[OP_COUNT] === 0) return;
    this.native.flush();
    this.dispatchPending();
  }

  dispatchPending(): void {
    if (this.inBatch) return;
    for (let round = 0; ; round++) {
      // More events than the region holds (stop() closing thousands of connections)
      // wait in native memory: bring them in once the region is empty.
      if (this.ev[EV_COUNT] === 0 && (this.ev[EV_OVERFLOW] === 0 || this.native.refill() === 0)) {
        if (this.ops[OP_COUNT] === 0) return;
        // Handlers of this JS-driven batch (an onWritable after a flush from a
        // timer) wrote: record() saw inBatch and left the flush to the batch's end,
        // but no native batch end follows, and the next read may move the inbound
        // bytes those writes reference. Apply them now. (Found by the issue 8
        // hammer: echoed bytes came back reordered, ~one read apart.)
        if (round >= 1000) {
          this.scheduleFlush();
          return;
        }
        this.native.flush();
        continue;
      }
      this.dispatch();
    }
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  post(c: Conn, kind: number, data?: Uint8Array, cb?: (err?: Error) => void): void {
    let tag = 0;
    if (cb) {
      tag = this.nextTag++;
      if (this.nextTag > 0x7fffffff) this.nextTag = 1;
      this.callbacks.set(tag, cb);
    }
    const r = addon.post(this.native.id, kind, c.slot, c.gen, data, tag);
    if (r < 0) {
      this.callbacks.delete(tag);
      const err =
        addon.errname(r) === 'ENOTCONN'
          ? makeError('ERR_RINGNET_CONN_CLOSED', 'ringnet: asyncWrite() on a closed connection')
          : makeError('ERR_RINGNET_CLOSED', 'ringnet: the loop is closed');
      if (cb) queueMicrotask(() => cb(err));
    }
  }

  countConnections(): number {
    return this.native.count();
  }

  /**
   * The loop failed (issue 8, item 2): reset every connection now, without
   * sending what is queued, and call onClose with `err` for each.
   */
  failAll(err: RingnetError): void {
    this.inBatch = false; // the failure may have escaped a batch: dispatch what the resets cause
    for (const c of this.conns) {
      if (c === undefined || c.closed) continue;
      if (!c.error) c.error = err;
      c.closing = true;
      this.native.reset(c.slot, c.gen);
    }
    this.dispatchPending();
    this.rejectDials(err);
  }
}
