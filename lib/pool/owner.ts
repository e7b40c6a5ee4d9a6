/**
 * The owner thread's side of a pool: it alone creates and stops worker threads, so it
 * spawns on demand, replaces workers that die (failing the task they ran), stops the
 * worker of a cancelled task, registers clients attached from other threads, and
 * relays the values that travel by message.
 */
import { BroadcastChannel, MessageChannel, Worker, type Transferable } from 'worker_threads';
import * as os from 'os';
import * as path from 'path';
import { Block } from './block';
import { encodeText, serializeThrown, T_CLOSED, T_EXIT } from './codec';
import {
  C_CQ_BASE,
  C_CQ_HEAD,
  C_CQ_SIGNAL,
  C_CQ_TAIL,
  C_SLEEPING,
  ctrl,
  P_CAP,
  P_LIVE,
  P_MAX_WORKERS,
  P_PENDING,
  P_RECORDS_HWM,
  P_SPAWN_REQ,
  P_SQ_CAP,
  P_SQ_HEAD,
  P_SQ_TAIL,
  P_WORKERS,
  PENDING_CLOSED,
  PENDING_COUNT,
  S_CTRL,
  sqBase,
  ST_CANCELLED,
  ST_DEAD,
  ST_DONE,
  ST_QUEUED,
  ST_RUNNING,
  W_ASLEEP,
  W_AWAKE,
  W_CUR,
  W_CUR_SEQ,
  W_GEN,
  W_NOTIFY,
  W_STATE,
  W_STRIDE,
  WS_FREE,
  WS_READY,
  WS_STARTING,
} from './layout';
import type { ClientInfo, FromClient, FromWorker, ToClient, ToWorker, WorkerInit } from './protocol';
import { clientChannel } from './protocol';
import { Ring } from './ring';
import { wakeAllWorkers } from './wake';
import type { WorkerPoolOptions } from './types';

/** The compiled worker bootstrap, next to this file in dist/pool/. */
const WORKER_SCRIPT = path.join(__dirname, 'worker.js');

const CPUS = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

/**
 * Microseconds an idle worker polls the queue before it sleeps. About one wake-up of a
 * submitting thread (50 µs), so that a submit/await loop finds its worker still awake —
 * but only when there is a CPU to spare for it: with no more CPUs than workers plus a
 * submitting thread, a polling worker takes the CPU the submitter needs to wake up, and
 * the round trip gets slower, not faster (measured on 2 CPUs). RINGNET_POOL_SPIN_US
 * overrides.
 */
function spinMicros(cap: number): number {
  const env = process.env.RINGNET_POOL_SPIN_US;
  if (env !== undefined && env !== '') return Math.max(0, Number(env) || 0);
  return CPUS > cap + 1 ? 50 : 0;
}

interface WorkerEntry {
  worker: Worker;
  index: number;
  ctrl: import('worker_threads').MessagePort;
  error: Error | undefined;
  /** Stopped on purpose (cancelled task, terminate): not a crash. */
  stopped: boolean;
}

interface ClientView {
  info: ClientInfo;
  block: Block;
  cq: Ring;
  channel: BroadcastChannel | undefined;
}

interface Stashed {
  v: unknown;
  transfer: ReadonlyArray<Transferable> | undefined;
}

export type ResultSink = (slot: number, seq: number, tag: number, value: unknown) => void;

export class Owner {
  readonly pool: Int32Array;
  private readonly sq: Ring;
  private readonly entries: (WorkerEntry | undefined)[];
  private readonly views: (ClientView | undefined)[] = [];
  private readonly stash = new Map<string, Stashed>();
  private readonly needs = new Map<string, WorkerEntry>();
  private readonly attachChannel: BroadcastChannel;
  private exitWaiters: (() => void)[] = [];
  private liveEntries = 0;
  /** Workers in a row that exited before loading the task module. */
  private failedStarts = 0;

  constructor(
    readonly poolSab: SharedArrayBuffer,
    readonly channelName: string,
    private readonly url: string,
    private readonly opts: WorkerPoolOptions,
    private readonly ownResults: ResultSink,
  ) {
    this.pool = new Int32Array(poolSab);
    const p = this.pool;
    this.sq = new Ring(p, P_SQ_HEAD, P_SQ_TAIL, sqBase(p[P_MAX_WORKERS]), p[P_SQ_CAP] - 1);
    this.entries = new Array<WorkerEntry | undefined>(p[P_MAX_WORKERS]).fill(undefined);
    this.attachChannel = new BroadcastChannel(channelName);
    this.attachChannel.onmessage = (ev: unknown) => this.onAttach((ev as MessageEvent).data as FromClient);
    this.attachChannel.unref();
  }

  /** Register a client block (the owner's own at construction; attached ones later). */
  addClient(info: ClientInfo, channel: BroadcastChannel | undefined): void {
    const block = new Block(info.sab, info.slots, info.slotBytes, info.cqCap);
    this.views[info.id] = { info, block, cq: new Ring(block.i32, C_CQ_HEAD, C_CQ_TAIL, C_CQ_BASE, info.cqCap - 1), channel };
    for (const e of this.entries) if (e !== undefined) this.sendControl(e, { t: 'client', info });
  }

  get closed(): boolean {
    return (Atomics.load(this.pool, P_PENDING) & PENDING_CLOSED) !== 0;
  }

  // ---- workers --------------------------------------------------------------------

  /** Start workers until they cover the admitted tasks (or `all`: the capacity). */
  ensureWorkers(all = false): void {
    const p = this.pool;
    if (this.closed) return;
    for (;;) {
      const cap = Atomics.load(p, P_CAP);
      const want = all ? cap : Math.min(cap, Atomics.load(p, P_PENDING) & PENDING_COUNT);
      const live = Atomics.load(p, P_LIVE);
      if (live >= want) return;
      if (Atomics.compareExchange(p, P_LIVE, live, live + 1) !== live) continue;
      if (!this.spawn()) {
        Atomics.sub(p, P_LIVE, 1);
        return;
      }
    }
  }

  /** Start one worker in a free record; its place in P_LIVE is already taken. */
  private spawn(): boolean {
    const p = this.pool;
    let index = -1;
    for (let w = 0; w < this.entries.length; w++) {
      if (this.entries[w] === undefined && Atomics.load(p, P_WORKERS + w * W_STRIDE + W_STATE) === WS_FREE) {
        index = w;
        break;
      }
    }
    if (index < 0) return false;
    const r = P_WORKERS + index * W_STRIDE;
    Atomics.store(p, r + W_CUR, -1);
    Atomics.store(p, r + W_AWAKE, 0);
    Atomics.store(p, r + W_ASLEEP, 0);
    Atomics.add(p, r + W_GEN, 1);
    Atomics.store(p, r + W_STATE, WS_STARTING);
    if (Atomics.load(p, P_RECORDS_HWM) <= index) Atomics.store(p, P_RECORDS_HWM, index + 1);
    const { port1, port2 } = new MessageChannel();
    const clients: ClientInfo[] = [];
    for (const v of this.views) if (v !== undefined) clients.push(v.info);
    const init: WorkerInit = {
      poolSab: this.poolSab,
      index,
      url: this.url,
      clients,
      ctrl: port2,
      userData: this.opts.workerData,
      spinUs: spinMicros(Atomics.load(p, P_CAP)),
    };
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SCRIPT, {
        workerData: init,
        transferList: [port2],
        resourceLimits: this.opts.resourceLimits,
        env: this.opts.env,
        execArgv: this.opts.execArgv,
      });
    } catch (err) {
      Atomics.store(p, r + W_STATE, WS_FREE);
      port1.close();
      throw err;
    }
    port1.unref();
    const entry: WorkerEntry = { worker, index, ctrl: port1, error: undefined, stopped: false };
    this.entries[index] = entry;
    this.liveEntries++;
    worker.on('message', (m: FromWorker) => this.onWorkerMessage(entry, m));
    worker.on('error', (err: Error) => {
      entry.error = err;
    });
    worker.on('exit', (code: number) => this.onExit(entry, code));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    // An idle pool must not hold the process open; tasks in flight do (client keepalive).
    if (!this.closed) worker.unref();
    return true;
  }

  private onExit(entry: WorkerEntry, code: number): void {
    const p = this.pool;
    const r = P_WORKERS + entry.index * W_STRIDE;
    this.entries[entry.index] = undefined;
    this.liveEntries--;
    // Whoever moves the record out of READY/STARTING owns the P_LIVE decrement: the
    // worker did if it retired, else (crash, kill) it is ours.
    let crashed = false;
    let failedStart = false;
    if (Atomics.compareExchange(p, r + W_STATE, WS_READY, WS_FREE) === WS_READY) {
      Atomics.sub(p, P_LIVE, 1);
      crashed = !entry.stopped;
      this.failedStarts = 0;
    } else if (Atomics.compareExchange(p, r + W_STATE, WS_STARTING, WS_FREE) === WS_STARTING) {
      Atomics.sub(p, P_LIVE, 1);
      failedStart = !entry.stopped;
    } else {
      this.failedStarts = 0;
    }
    const cur = Atomics.load(p, r + W_CUR);
    if (cur !== -1) {
      let reason = `worker ${entry.index} exited with code ${code} while running the task`;
      if (entry.error !== undefined) {
        const e = entry.error as Error & { code?: string };
        reason += `: ${e.code !== undefined ? `${e.code} ` : ''}${e.message}`;
      }
      this.failTask(cur, Atomics.load(p, r + W_CUR_SEQ), reason);
      Atomics.store(p, r + W_CUR, -1);
    }
    for (const [k, e] of this.needs) if (e === entry) this.needs.delete(k);
    // A worker that died idle must not count as awake, nor as parked: a waker would
    // spend its wake-up on it.
    Atomics.store(p, r + W_AWAKE, 0);
    Atomics.store(p, r + W_ASLEEP, 0);
    Atomics.store(p, r + W_STATE, WS_FREE);
    entry.ctrl.close();
    if (this.liveEntries === 0) {
      if (this.closed) Atomics.store(p, P_LIVE, 0); // a kill may have landed mid-retire
      const waiters = this.exitWaiters;
      this.exitWaiters = [];
      for (const w of waiters) w();
    }
    if (failedStart && ++this.failedStarts >= 2) {
      // Workers die before they can take a task (a task module that exits or crashes
      // the thread while loading, heap limits too small to start): fail the waiting
      // tasks rather than respawn forever. The next submit tries again.
      const why = entry.error !== undefined ? `: ${entry.error.message}` : ` with code ${code}`;
      this.failQueued(`workers fail to start (twice in a row)${why}`);
      this.failedStarts = 0;
      return;
    }
    // A crashed worker of a pre-allocated pool is replaced at once; otherwise on demand.
    if (!this.closed) this.ensureWorkers(crashed && this.opts.preAlloc === true);
  }

  /**
   * Settle the task a dead worker held. The slot is first claimed (RUNNING → CANCELLED)
   * so that a worker that had in fact finished cannot have its result overwritten.
   */
  private failTask(key: number, seq: number, reason: string): void {
    this.stash.delete(`${key}:${seq}`);
    const v = this.views[key >>> 16];
    if (v === undefined) return;
    const i = key & 0xffff;
    const i32 = v.block.i32;
    const h = v.block.h(i);
    const claimed = ctrl(seq, ST_CANCELLED);
    for (const from of [ctrl(seq, ST_RUNNING), ctrl(seq, ST_QUEUED)]) {
      if (Atomics.compareExchange(i32, h + S_CTRL, from, claimed) === from) {
        if (this.closed) encodeText(v.block, i, T_CLOSED, '');
        else encodeText(v.block, i, T_EXIT, reason);
        Atomics.store(i32, h + S_CTRL, ctrl(seq, ST_DONE));
        Atomics.sub(this.pool, P_PENDING, 1);
        this.pushCompletion(v, i, seq);
        return;
      }
    }
    // Cancelled by its submitter and never handed back: hand it back now.
    if (Atomics.compareExchange(i32, h + S_CTRL, claimed, ctrl(seq, ST_DEAD)) === claimed) {
      this.pushCompletion(v, i, seq);
      return;
    }
    // Done, but the worker may have died before queueing the completion: queue it
    // (again). The submitter ignores a notice for a slot it has already settled.
    const c = Atomics.load(i32, h + S_CTRL);
    if (c === ctrl(seq, ST_DONE) || c === ctrl(seq, ST_DEAD)) this.pushCompletion(v, i, seq);
  }

  private pushCompletion(v: ClientView, i: number, seq: number): void {
    if (!v.cq.push(i, seq)) return; // cannot happen: the queue holds one entry per slot
    this.wakeClient(v);
  }

  private wakeClient(v: ClientView): void {
    const i32 = v.block.i32;
    if (Atomics.load(i32, C_SLEEPING) !== 0) {
      Atomics.add(i32, C_CQ_SIGNAL, 1);
      Atomics.notify(i32, C_CQ_SIGNAL);
    }
  }

  /** Stop the worker still running the cancelled task (key, seq), if it is. */
  kill(w: number, key: number, seq: number): void {
    const e = w >= 0 ? this.entries[w] : undefined;
    if (e === undefined) return;
    const r = P_WORKERS + w * W_STRIDE;
    if (Atomics.load(this.pool, r + W_CUR) !== key || Atomics.load(this.pool, r + W_CUR_SEQ) !== seq) return;
    e.stopped = true;
    void e.worker.terminate();
  }

  /** Wake every parked worker (to notice a new capacity or the pool closing). */
  wakeAllWorkers(): void {
    wakeAllWorkers(this.pool);
  }

  // ---- closing --------------------------------------------------------------------

  /** Fail every task on the submission queue with ERR_POOL_WORKER_EXIT. */
  private failQueued(reason: string): void {
    while (this.sq.pop()) this.failTask(this.sq.a, this.sq.b, reason);
  }

  /** Close the pool: no admission, queued tasks fail with ERR_POOL_CLOSED. */
  close(): void {
    const p = this.pool;
    for (;;) {
      const v = Atomics.load(p, P_PENDING);
      if (v & PENDING_CLOSED || Atomics.compareExchange(p, P_PENDING, v, v | PENDING_CLOSED) === v) break;
    }
    while (this.sq.pop()) this.failTask(this.sq.a, this.sq.b, '');
    // Workers are unref'd so that an idle pool never holds the process open; the ones
    // finishing their last task must, or `await release()` would see the loop end first.
    for (const e of this.entries) e?.worker.ref();
    // Stashed arguments of tasks already running stay: their workers still ask for them.
    this.wakeAllWorkers();
    for (const v of this.views) {
      if (v === undefined) continue;
      Atomics.add(v.block.i32, C_CQ_SIGNAL, 1);
      Atomics.notify(v.block.i32, C_CQ_SIGNAL);
    }
  }

  /** Reopen after close(). */
  reopen(): void {
    const p = this.pool;
    for (;;) {
      const v = Atomics.load(p, P_PENDING);
      if (Atomics.compareExchange(p, P_PENDING, v, v & ~PENDING_CLOSED) === v) break;
    }
    // Workers still finishing tasks from before the release stay on as ordinary ones.
    for (const e of this.entries) e?.worker.unref();
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no worker thread is left (or the pool is reopened). */
  whenAllExited(): Promise<void> {
    if (this.liveEntries === 0) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** Terminate every worker now; their tasks fail (ERR_POOL_CLOSED once closed). */
  terminateAll(): void {
    for (const e of this.entries) {
      if (e === undefined) continue;
      e.stopped = true;
      void e.worker.terminate();
    }
  }

  get threadCount(): number {
    return this.liveEntries;
  }

  /** Thread ids of the live workers (for diagnostics and tests). */
  get threadIds(): number[] {
    const ids: number[] = [];
    for (const e of this.entries) if (e !== undefined) ids.push(e.worker.threadId);
    return ids;
  }

  // ---- by-message values ----------------------------------------------------------

  private sendControl(e: WorkerEntry, m: ToWorker, transfer?: ReadonlyArray<Transferable>): void {
    e.ctrl.postMessage(m, transfer as Transferable[] | undefined);
    const r = P_WORKERS + e.index * W_STRIDE;
    Atomics.add(this.pool, r + W_NOTIFY, 1);
    Atomics.notify(this.pool, r + W_NOTIFY);
  }

  /** Hold a by-message argument for the worker that will take its task. */
  stashArg(key: number, seq: number, v: unknown, transfer: ReadonlyArray<Transferable> | undefined): void {
    const k = `${key}:${seq}`;
    const e = this.needs.get(k);
    if (e === undefined) {
      this.stash.set(k, { v, transfer });
      return;
    }
    this.needs.delete(k);
    this.sendArg(e, key, seq, { v, transfer });
  }

  dropArg(key: number, seq: number): void {
    this.stash.delete(`${key}:${seq}`);
  }

  private sendArg(e: WorkerEntry, key: number, seq: number, s: Stashed): void {
    const base = { t: 'arg' as const, c: key >>> 16, i: key & 0xffff, s: seq };
    try {
      this.sendControl(e, { ...base, ok: true, v: s.v }, s.transfer);
    } catch (err) {
      // Not cloneable after all (e.g. a transfer list naming what cannot be moved).
      this.sendControl(e, { ...base, ok: false, err: serializeThrown(err) });
    }
  }

  private onWorkerMessage(e: WorkerEntry, m: FromWorker): void {
    if (m.t === 'need') {
      const key = (m.c << 16) | m.i;
      const k = `${key}:${m.s}`;
      const s = this.stash.get(k);
      if (s === undefined) {
        this.needs.set(k, e);
        return;
      }
      this.stash.delete(k);
      this.sendArg(e, key, m.s, s);
    } else if (m.t === 'res') {
      if (m.c === 0) {
        this.ownResults(m.i, m.s, m.tag, m.v);
        return;
      }
      const v = this.views[m.c];
      const msg: ToClient = { t: 'res', i: m.i, s: m.s, tag: m.tag, v: m.v };
      v?.channel?.postMessage(msg);
    }
  }

  // ---- attached clients -----------------------------------------------------------

  private onAttach(m: FromClient): void {
    if (m.t !== 'attach') return;
    const info = m.info;
    const channel = new BroadcastChannel(clientChannel(this.channelName, info.id));
    channel.unref();
    channel.onmessage = (ev: unknown) => this.onClientMessage(info.id, (ev as MessageEvent).data as FromClient);
    this.addClient(info, channel);
    const ready: ToClient = { t: 'ready' };
    channel.postMessage(ready);
  }

  private onClientMessage(id: number, m: FromClient): void {
    switch (m.t) {
      case 'spawn':
        Atomics.store(this.pool, P_SPAWN_REQ, 0);
        this.ensureWorkers();
        break;
      case 'kill':
        this.kill(m.w, m.key, m.s);
        break;
      case 'stash':
        this.stashArg(m.key, m.s, m.v, undefined);
        break;
      case 'drop':
        this.dropArg(m.key, m.s);
        break;
      case 'detach': {
        const v = this.views[id];
        v?.channel?.close();
        if (v !== undefined) v.channel = undefined;
        break;
      }
    }
  }

  /** Stop listening for attach requests (the pool object is being discarded). */
  dispose(): void {
    this.attachChannel.close();
    for (const v of this.views) v?.channel?.close();
  }
}
