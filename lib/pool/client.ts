/**
 * The submitting side of the pool, the same on every thread: the owner's WorkerPool
 * uses one (client 0) and `WorkerPool.attach` makes one on any other thread.
 *
 * A submit is admitted with one CAS on the pool's pending counter (capacity,
 * nonblocking and maxBlockingTasks are decided there, for all threads at once), its
 * argument is written into one of this client's slots, and a reference to the slot is
 * pushed on the shared submission queue. Workers write the result back into the slot
 * and push the reference on this client's completion queue; the client drains that
 * queue when `Atomics.waitAsync` wakes it, settling many promises per wake-up.
 * What cannot go through a slot travels by message via the transport.
 */
import type { Transferable } from 'worker_threads';
import { waitAsync } from './atomics';
import { Block } from './block';
import {
  decode,
  decodeText,
  decodeThrown,
  deserializeThrown,
  encode,
  encodeName,
  lastEncodeUnserializable,
  T_CLOSED,
  T_ERROR,
  T_EXIT,
  T_MSG,
  T_THROWN,
} from './codec';
import { closedError, invalidArg, overloadError, poolError, uncloneableArg, type PoolError } from './errors';
import {
  C_CQ_BASE,
  C_CQ_CAP,
  C_CQ_HEAD,
  C_CQ_SIGNAL,
  C_CQ_TAIL,
  C_SLEEPING,
  ctrl,
  F_NONBLOCKING,
  P_CAP,
  P_FLAGS,
  P_LIVE,
  P_MAX_BLOCKING,
  P_PENDING,
  P_SLEEPERS,
  P_SQ_CAP,
  P_SQ_HEAD,
  P_SQ_TAIL,
  PENDING_CLOSED,
  PENDING_COUNT,
  S_CTRL,
  S_NAME_LEN,
  S_TAG,
  S_WORKER,
  SEQ_MASK,
  sqBase,
  ST_CANCELLED,
  ST_DEAD,
  ST_DONE,
  ST_FREE,
  ST_QUEUED,
  ST_RUNNING,
  taskKey,
  P_MAX_WORKERS,
} from './layout';
import { Ring } from './ring';
import { PoolStats } from './stats';
import { wakeWorkers } from './wake';
import type { PanicTask, SubmitOptions } from './types';

/** How a client reaches the owner thread for what shared memory cannot do. */
export interface ClientTransport {
  /** Start workers if fewer run than admitted tasks need. */
  wantWorkers(): void;
  /** Stop the worker that runs a task its submitter cancelled. */
  kill(worker: number, key: number, seq: number): void;
  /** Hold a by-message argument until the worker that took the task asks for it. */
  stash(key: number, seq: number, value: unknown, transferList: ReadonlyArray<Transferable> | undefined): void;
  /** Forget a stashed argument: its task was cancelled before a worker took it. */
  drop(key: number, seq: number): void;
}

const TS_WAIT_SLOT = 0; // admitted, waiting for a free slot of this client
const TS_BACKLOG = 1; // in a slot, waiting for room in the submission queue
const TS_SUBMITTED = 2; // on the submission queue or running
const TS_SETTLED = 3;

const MAX_NAME_BYTES = 255;

class Task {
  slot = -1;
  seq = 0;
  state = TS_WAIT_SLOT;
  byMsg = false;
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    public arg: unknown,
    readonly name: string,
    readonly transfer: ReadonlyArray<Transferable> | undefined,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
  ) {}
}

function abortError(signal: AbortSignal): PoolError {
  return poolError('ABORT_ERR', 'ringnet pool: the task was aborted', signal.reason);
}

export class PoolClient {
  readonly pool: Int32Array;
  readonly block: Block;
  private readonly sq: Ring;
  private readonly cq: Ring;
  private readonly tasks: (Task | undefined)[];
  private readonly seqs: Int32Array;
  private readonly freeSlots: number[] = [];
  private waitSlot: (Task | undefined)[] = [];
  private waitSlotHead = 0;
  private backlog: Task[] = [];
  private backlogHead = 0;
  private backlogTimer: NodeJS.Timeout | undefined = undefined;
  /** Results that came by message before their completion entry, and vice versa. */
  private readonly earlyResults = new Map<number, { tag: number; value: unknown }>();
  private readonly lateResults = new Map<number, Task>();
  private inflight = 0;
  private armed = false;
  private closedLocal = false;
  /** Holds the event loop open while tasks are in flight (waitAsync does not). */
  private readonly keepalive: NodeJS.Timeout;
  onPanic: ((err: unknown, task: PanicTask) => void) | undefined;
  /** Called when the last task in flight settles. */
  onIdle: (() => void) | undefined = undefined;

  constructor(
    poolSab: SharedArrayBuffer,
    block: Block,
    readonly id: number,
    private readonly transport: ClientTransport,
    onPanic: ((err: unknown, task: PanicTask) => void) | undefined,
  ) {
    this.pool = new Int32Array(poolSab);
    this.stats = new PoolStats(this.pool);
    this.block = block;
    const p = this.pool;
    const sqCap = p[P_SQ_CAP];
    this.sq = new Ring(p, P_SQ_HEAD, P_SQ_TAIL, sqBase(p[P_MAX_WORKERS]), sqCap - 1);
    const cqCap = block.i32[C_CQ_CAP];
    this.cq = new Ring(block.i32, C_CQ_HEAD, C_CQ_TAIL, C_CQ_BASE, cqCap - 1);
    this.tasks = new Array<Task | undefined>(block.slots).fill(undefined);
    this.seqs = new Int32Array(block.slots);
    for (let i = block.slots - 1; i >= 0; i--) this.freeSlots.push(i);
    this.onPanic = onPanic;
    this.keepalive = setInterval(noop, 1 << 30);
    this.keepalive.unref();
  }

  // ---- submit ---------------------------------------------------------------------

  /** Run the task module's function on `arg` in a worker; see {@link WorkerPool.submit}. */
  submit<R = unknown>(arg?: unknown, opts?: SubmitOptions): Promise<R> {
    let name = '';
    let transfer: ReadonlyArray<Transferable> | undefined;
    let signal: AbortSignal | undefined;
    let timeout = 0;
    if (opts !== undefined) {
      if (opts.name !== undefined) {
        if (typeof opts.name !== 'string' || Buffer.byteLength(opts.name) > MAX_NAME_BYTES) {
          return Promise.reject(invalidArg(`task name must be a string of at most ${MAX_NAME_BYTES} bytes`));
        }
        name = opts.name;
      }
      if (opts.transferList !== undefined && opts.transferList.length > 0) transfer = opts.transferList;
      if (opts.timeout !== undefined) {
        if (!(opts.timeout >= 0) || opts.timeout > 0x7fffffff) {
          return Promise.reject(invalidArg(`timeout must be a number of ms in [0, 2^31), got ${opts.timeout}`));
        }
        timeout = opts.timeout;
      }
      signal = opts.signal;
      if (signal?.aborted) return Promise.reject(abortError(signal));
    }
    if (this.closedLocal) return Promise.reject(poolError('ERR_POOL_CLOSED', 'ringnet pool: this client is closed'));
    const refused = this.admit();
    if (refused !== null) return Promise.reject(refused);
    return new Promise<R>((resolve, reject) => {
      const t = new Task(arg, name, transfer, resolve as (v: unknown) => void, reject);
      if (this.inflight++ === 0) this.keepalive.ref();
      if (timeout > 0) t.timer = setTimeout(this.onTimeout, timeout, t, timeout);
      if (signal !== undefined) {
        const s = signal;
        t.signal = s;
        t.onAbort = () => this.cancel(t, abortError(s));
        s.addEventListener('abort', t.onAbort, { once: true });
      }
      this.enqueue(t);
      if (!this.armed) this.arm();
    });
  }

  /** One CAS decides capacity, nonblocking and maxBlockingTasks for every thread. */
  private admit(): PoolError | null {
    const p = this.pool;
    for (;;) {
      const pending = Atomics.load(p, P_PENDING);
      if (pending & PENDING_CLOSED) return closedError();
      const cap = Atomics.load(p, P_CAP);
      if (pending >= cap) {
        if (p[P_FLAGS] & F_NONBLOCKING) return overloadError(`all ${cap} workers are busy (nonblocking pool)`);
        const maxBlocking = p[P_MAX_BLOCKING];
        if (maxBlocking > 0 && pending - cap >= maxBlocking) {
          return overloadError(`${maxBlocking} tasks already wait for a worker (maxBlockingTasks)`);
        }
      }
      if (Atomics.compareExchange(p, P_PENDING, pending, pending + 1) === pending) return null;
    }
  }

  private enqueue(t: Task): void {
    if (this.waitSlotHead < this.waitSlot.length) {
      this.waitSlot.push(t);
      return;
    }
    const i = this.freeSlots.pop();
    if (i === undefined) this.waitSlot.push(t);
    else this.place(t, i);
  }

  /** Write task `t` into slot `i` and queue it. */
  private place(t: Task, i: number): void {
    const b = this.block;
    const h = b.h(i);
    const seq = (this.seqs[i] = (this.seqs[i] + 1) & SEQ_MASK);
    t.slot = i;
    t.seq = seq;
    this.tasks[i] = t;
    b.i32[h + S_WORKER] = -1;
    try {
      const skip = t.name.length === 0 ? (b.i32[h + S_NAME_LEN] = 0) : encodeName(b, i, t.name);
      if (t.transfer !== undefined || !encode(b, i, t.arg, skip)) {
        // A value v8.serialize refuses may still be cloneable by message (it holds a
        // SharedArrayBuffer, a MessagePort…) or not at all (a function): find out now,
        // so that this submit rejects rather than its task later.
        if (t.transfer === undefined && lastEncodeUnserializable) structuredClone(t.arg);
        b.i32[h + S_TAG] = T_MSG;
        this.transport.stash(taskKey(this.id, i), seq, t.arg, t.transfer);
        t.byMsg = true;
      }
    } catch (err) {
      // Not cloneable (a function, a symbol…): reject this submit only, with a
      // string code (the DataCloneError's own code is the number 25).
      this.tasks[i] = undefined;
      this.freeSlots.push(i);
      Atomics.sub(this.pool, P_PENDING, 1);
      this.settle(t, false, typeof (err as { code?: unknown })?.code === 'string' ? err : uncloneableArg(err), false);
      return;
    }
    if (this.onPanic === undefined) t.arg = undefined;
    Atomics.store(b.i32, h + S_CTRL, ctrl(seq, ST_QUEUED));
    if (this.paused || this.backlogHead < this.backlog.length || !this.sq.push(taskKey(this.id, i), seq)) {
      t.state = TS_BACKLOG;
      this.backlog.push(t);
      if (!this.paused) this.retryBacklogSoon();
      return;
    }
    t.state = TS_SUBMITTED;
    this.afterPush();
  }

  private afterPush(): void {
    const p = this.pool;
    // Producer half of the sleep handshake (the worker half is in worker.ts): a worker
    // that registers as a sleeper after this load re-checks the queue before it waits,
    // so only sleepers seen here need a wake-up. That is left to the end of the current
    // burst of submits (a microtask): one futex wake per burst instead of one per task,
    // and woken workers do not compete for the CPU while this thread still submits.
    if (Atomics.load(p, P_SLEEPERS) > 0 && this.unsignalled++ === 0) RESOLVED.then(this.signalWorkers);
    const live = Atomics.load(p, P_LIVE);
    if (live < Atomics.load(p, P_CAP) && live < (Atomics.load(p, P_PENDING) & PENDING_COUNT)) {
      this.transport.wantWorkers();
    }
  }

  /** Tasks pushed since the last wake-up of sleeping workers. */
  private unsignalled = 0;

  /**
   * Wake sleepers for the pushes of this burst (see afterPush): as many as the queue
   * holds tasks, less the workers that are idle but awake — they poll the queue again
   * before they sleep (worker.ts), so they take a task each without a futex wake, and a
   * needlessly woken worker would take a CPU that the submitting thread needs.
   */
  private readonly signalWorkers = (): void => {
    const want = Math.min(this.unsignalled, this.sq.size() - this.stats.awake);
    this.unsignalled = 0;
    if (want > 0) wakeWorkers(this.pool, want);
  };

  private retryBacklogSoon(): void {
    if (this.backlogTimer === undefined) this.backlogTimer = setTimeout(this.flushBacklog, 1);
  }

  /** Hold submissions in the backlog (an attached client until the owner knows it). */
  paused = false;

  resume(): void {
    this.paused = false;
    this.flushBacklog();
  }

  private readonly flushBacklog = (): void => {
    this.backlogTimer = undefined;
    if (this.paused) return;
    if (this.stats.isClosed) {
      this.failUnsent();
      return;
    }
    while (this.backlogHead < this.backlog.length) {
      const t = this.backlog[this.backlogHead];
      if (t.state === TS_BACKLOG) {
        if (!this.sq.push(taskKey(this.id, t.slot), t.seq)) {
          this.retryBacklogSoon();
          return;
        }
        t.state = TS_SUBMITTED;
        this.afterPush();
      }
      this.backlogHead++;
    }
    this.backlog = [];
    this.backlogHead = 0;
  };

  // ---- completion -----------------------------------------------------------------

  /** Drain now, or park on the completion queue until a worker pushes to it. */
  private arm(): void {
    const i32 = this.block.i32;
    while (this.inflight > 0) {
      Atomics.store(i32, C_SLEEPING, 1);
      const seen = Atomics.load(i32, C_CQ_SIGNAL);
      if (this.cq.isEmpty()) {
        const r = waitAsync(i32, C_CQ_SIGNAL, seen);
        if (r.async) {
          this.armed = true;
          r.value.then(this.onWake);
          return;
        }
      }
      Atomics.store(i32, C_SLEEPING, 0);
      this.drain();
    }
  }

  private readonly onWake = (): void => {
    this.armed = false;
    Atomics.store(this.block.i32, C_SLEEPING, 0);
    this.drain();
    if (!this.armed) this.arm();
  };

  /** Settle every task the completion queue names. */
  drain(): void {
    const cq = this.cq;
    const b = this.block;
    const i32 = b.i32;
    while (cq.pop()) {
      const i = cq.a;
      const seq = cq.b;
      const c = Atomics.load(i32, b.h(i) + S_CTRL);
      if (c >>> 3 !== seq) continue; // a duplicate notice for an older use of the slot
      const state = c & 7;
      if (state === ST_DONE) this.complete(i, seq);
      else if (state === ST_DEAD) this.freeSlot(i);
    }
    if (this.stats.isClosed) this.failUnsent();
    else if (this.backlogHead < this.backlog.length && this.backlogTimer === undefined) this.flushBacklog();
  }

  private complete(i: number, seq: number): void {
    const b = this.block;
    const t = this.tasks[i];
    const tag = b.i32[b.h(i) + S_TAG];
    let ok = true;
    let panic = false;
    let value: unknown;
    try {
      switch (tag) {
        case T_MSG: {
          this.freeSlot(i);
          const key = seq * 65536 + i;
          const early = this.earlyResults.get(key);
          if (early === undefined) {
            if (t !== undefined) this.lateResults.set(key, t);
          } else {
            this.earlyResults.delete(key);
            if (t !== undefined) this.settleFromMessage(t, early.tag, early.value);
          }
          return;
        }
        case T_ERROR:
        case T_THROWN:
          ok = false;
          panic = true;
          value = decodeThrown(b, i);
          break;
        case T_CLOSED:
          ok = false;
          value = closedError();
          break;
        case T_EXIT:
          ok = false;
          value = poolError('ERR_POOL_WORKER_EXIT', `ringnet pool: ${decodeText(b, i)}`);
          break;
        default:
          value = decode(b, i, 0);
      }
    } catch (err) {
      ok = false;
      value = err;
    }
    this.freeSlot(i);
    if (t !== undefined) this.settle(t, ok, value, panic);
  }

  /** A by-message result arrived (from the owner thread, see transport). */
  deliver(slot: number, seq: number, tag: number, value: unknown): void {
    const key = seq * 65536 + slot;
    const t = this.lateResults.get(key);
    if (t === undefined) {
      this.earlyResults.set(key, { tag, value });
      return;
    }
    this.lateResults.delete(key);
    this.settleFromMessage(t, tag, value);
  }

  private settleFromMessage(t: Task, tag: number, value: unknown): void {
    if (tag === T_ERROR || tag === T_THROWN) {
      let err: unknown;
      try {
        err = deserializeThrown(tag, value as Uint8Array);
      } catch (e) {
        err = e;
      }
      this.settle(t, false, err, true);
    } else {
      this.settle(t, true, value, false);
    }
  }

  private settle(t: Task, ok: boolean, value: unknown, panic: boolean): void {
    if (t.state === TS_SETTLED) return;
    t.state = TS_SETTLED;
    if (t.timer !== undefined) clearTimeout(t.timer);
    if (t.onAbort !== undefined) t.signal!.removeEventListener('abort', t.onAbort);
    if (--this.inflight === 0) {
      this.keepalive.unref();
      if (this.onIdle !== undefined) this.onIdle();
    }
    if (ok) {
      t.resolve(value);
      return;
    }
    t.reject(value);
    if (panic && this.onPanic !== undefined) {
      const onPanic = this.onPanic;
      const task: PanicTask = { name: t.name, arg: t.arg };
      try {
        onPanic(value, task);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private freeSlot(i: number): void {
    Atomics.store(this.block.i32, this.block.h(i) + S_CTRL, ctrl(this.seqs[i], ST_FREE));
    this.tasks[i] = undefined;
    while (this.waitSlotHead < this.waitSlot.length) {
      const t = this.waitSlot[this.waitSlotHead];
      this.waitSlot[this.waitSlotHead++] = undefined;
      if (this.waitSlotHead === this.waitSlot.length) {
        this.waitSlot = [];
        this.waitSlotHead = 0;
      }
      if (t !== undefined && t.state === TS_WAIT_SLOT) {
        if (this.stats.isClosed) {
          Atomics.sub(this.pool, P_PENDING, 1);
          this.settle(t, false, closedError(), false);
          continue;
        }
        this.place(t, i);
        return;
      }
    }
    this.freeSlots.push(i);
  }

  // ---- cancellation ---------------------------------------------------------------

  private readonly onTimeout = (t: Task, ms: number): void => {
    const what = t.name === '' ? 'task' : `task "${t.name}"`;
    this.cancel(t, poolError('ERR_POOL_TIMEOUT', `ringnet pool: ${what} timed out after ${ms} ms`));
  };

  /**
   * Reject `t` now. A queued task is marked cancelled (the worker that pops it skips
   * it and hands the slot back); a running one is marked cancelled and its worker is
   * stopped and replaced, because JS cannot interrupt a function mid-run. Either way
   * the task's capacity is given back at once.
   */
  private cancel(t: Task, err: PoolError): void {
    switch (t.state) {
      case TS_SETTLED:
        return;
      case TS_WAIT_SLOT:
        Atomics.sub(this.pool, P_PENDING, 1);
        break;
      case TS_BACKLOG:
        Atomics.sub(this.pool, P_PENDING, 1);
        if (t.byMsg) this.transport.drop(taskKey(this.id, t.slot), t.seq);
        this.freeSlot(t.slot); // settle() below marks it so the backlog skips it
        break;
      case TS_SUBMITTED: {
        const i32 = this.block.i32;
        const h = this.block.h(t.slot);
        const queued = ctrl(t.seq, ST_QUEUED);
        const running = ctrl(t.seq, ST_RUNNING);
        const cancelled = ctrl(t.seq, ST_CANCELLED);
        if (Atomics.compareExchange(i32, h + S_CTRL, queued, cancelled) === queued) {
          Atomics.sub(this.pool, P_PENDING, 1);
          if (t.byMsg) this.transport.drop(taskKey(this.id, t.slot), t.seq);
        } else if (Atomics.compareExchange(i32, h + S_CTRL, running, cancelled) === running) {
          Atomics.sub(this.pool, P_PENDING, 1);
          this.transport.kill(Atomics.load(i32, h + S_WORKER), taskKey(this.id, t.slot), t.seq);
        }
        // else: done already; its completion entry will free the slot.
        break;
      }
    }
    this.settle(t, false, err, false);
  }

  /** Reject the tasks that never reached the shared queue (the pool was closed). */
  failUnsent(): void {
    const err = closedError();
    for (let k = this.waitSlotHead; k < this.waitSlot.length; k++) {
      const t = this.waitSlot[k];
      if (t !== undefined && t.state === TS_WAIT_SLOT) {
        Atomics.sub(this.pool, P_PENDING, 1);
        this.settle(t, false, err, false);
      }
    }
    this.waitSlot = [];
    this.waitSlotHead = 0;
    const backlog = this.backlog;
    const from = this.backlogHead;
    this.backlog = [];
    this.backlogHead = 0;
    for (let k = from; k < backlog.length; k++) {
      const t = backlog[k];
      if (t.state === TS_BACKLOG) {
        Atomics.sub(this.pool, P_PENDING, 1);
        if (t.byMsg) this.transport.drop(taskKey(this.id, t.slot), t.seq);
        this.settle(t, false, err, false);
        this.freeSlot(t.slot);
      }
    }
  }

  // ---- state ----------------------------------------------------------------------

  /** Stop taking submissions from this client (tasks in flight still settle). */
  closeClient(): void {
    this.closedLocal = true;
  }

  /** The pool's shared counters (cap, running, waiting, …). */
  readonly stats: PoolStats;

  /** Tasks this client has submitted that have not settled yet. */
  get inFlight(): number {
    return this.inflight;
  }

  /** Free the keep-alive timer (the client is done). */
  dispose(): void {
    clearInterval(this.keepalive);
    if (this.backlogTimer !== undefined) clearTimeout(this.backlogTimer);
  }
}

function noop(): void {}

const RESOLVED = Promise.resolve();
