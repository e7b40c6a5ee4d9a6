/**
 * Bootstrap of a pool worker thread: loads the task module, then takes tasks from the
 * shared submission queue until it retires (idle past `expiry`, capacity tuned down,
 * pool released) or is stopped by the owner.
 *
 * Life of a task here: pop (client, slot, seq) from the SQ; record it in this worker's
 * record (so the owner can fail it if this thread dies); CAS the slot QUEUED → RUNNING
 * (fails if the submitter cancelled it); decode; run; encode the result into the slot;
 * CAS RUNNING → DONE (fails if the submitter cancelled it meanwhile); push the slot on
 * the submitter's completion queue and wake the submitter only if it is parked.
 *
 * Waiting: when the queue is empty the worker lets its own event loop run once
 * (microtasks and timers left by tasks), polls the queue for a few tens of microseconds
 * (the next task of a submit/await loop arrives about one submitter wake-up later),
 * then parks on the SQ futex word: with a
 * blocking `Atomics.wait` when its event loop has nothing else to do, or with
 * `Atomics.waitAsync` when tasks left timers, sockets… behind, so those keep running.
 */
import wt = require('worker_threads');
import { syncBuiltinESMExports } from 'module';
import { fileURLToPath } from 'url';
import { waitAsync } from './atomics';
import { Block } from './block';
import {
  decode,
  decodeName,
  deserializeThrown,
  encode,
  encodeThrown,
  serializeThrown,
  T_ERROR,
  T_MSG,
  T_V8,
} from './codec';
import {
  C_CQ_BASE,
  C_CQ_HEAD,
  C_CQ_SIGNAL,
  C_CQ_TAIL,
  C_SLEEPING,
  ctrl,
  F_DISABLE_PURGE,
  P_CAP,
  P_EXPIRY_MS,
  P_FLAGS,
  P_LIVE,
  P_MAX_WORKERS,
  P_PENDING,
  P_SLEEPERS,
  P_SQ_CAP,
  P_SQ_HEAD,
  P_SLEEP_TICKET,
  P_SQ_TAIL,
  P_WORKERS,
  PENDING_CLOSED,
  S_CTRL,
  S_NAME_LEN,
  S_TAG,
  S_WORKER,
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
  W_NOTIFY,
  W_STATE,
  W_SLEPT,
  W_STRIDE,
  W_WAKE,
  WS_READY,
  WS_RETIRED,
  WS_STARTING,
} from './layout';
import type { ClientInfo, FromWorker, ToWorker, WorkerInit } from './protocol';
import { Ring } from './ring';

const init = wt.workerData as WorkerInit;
const port = wt.parentPort!;
const ctrlPort = init.ctrl;

// Task modules see the user's workerData, not ours.
(wt as { workerData: unknown }).workerData = init.userData;
syncBuiltinESMExports();

// A worker thread ends when its event loop is empty, and neither a pending
// Atomics.waitAsync (ours, when parked) nor a task's promise awaiting another thread
// counts as work: hold the loop open until the pool retires this worker (process.exit).
// A MessagePort, which eventLoopIdle() ignores, so parking decisions stay unaffected.
const keepAlive = new wt.MessageChannel().port1;
keepAlive.ref();

const pool = new Int32Array(init.poolSab);
const rec = P_WORKERS + init.index * W_STRIDE;
const sq = new Ring(pool, P_SQ_HEAD, P_SQ_TAIL, sqBase(pool[P_MAX_WORKERS]), pool[P_SQ_CAP] - 1);
/** Microseconds an idle worker polls the queue before it sleeps. */
const SPIN_US = init.spinUs;
/** Sync tasks run back to back; after this long the worker lets its event loop run. */
const SLICE_MS = 20;

interface ClientView {
  block: Block;
  cq: Ring;
}
const clients: (ClientView | undefined)[] = [];

function addClient(info: ClientInfo): void {
  const block = new Block(info.sab, info.slots, info.slotBytes, info.cqCap);
  clients[info.id] = { block, cq: new Ring(block.i32, C_CQ_HEAD, C_CQ_TAIL, C_CQ_BASE, info.cqCap - 1) };
}
for (const c of init.clients) addClient(c);

// ---- task module ------------------------------------------------------------------

type Fn = (arg: unknown) => unknown;
// A real dynamic import: TypeScript would compile `import()` to `require()` for CommonJS.
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;
let ns: Record<string, unknown> = {};
let loadError: unknown;
const fns = new Map<string, Fn | null>();

function lookup(name: string): Fn | null {
  let fn = fns.get(name);
  if (fn !== undefined) return fn;
  const dflt = ns.default as Record<string, unknown> | Fn | undefined;
  let found: unknown;
  if (name === '') {
    found = dflt;
    if (typeof found !== 'function' && found !== null && typeof found === 'object') found = (found as Record<string, unknown>).default;
  } else {
    found = ns[name];
    if (typeof found !== 'function' && dflt !== null && (typeof dflt === 'object' || typeof dflt === 'function')) {
      found = (dflt as Record<string, unknown>)[name];
    }
  }
  fn = typeof found === 'function' ? (found as Fn) : null;
  fns.set(name, fn);
  return fn;
}

function notFound(name: string): Error {
  if (loadError !== undefined) return loadError as Error;
  const what = name === '' ? 'a default export' : `an export named "${name}"`;
  const err = new TypeError(`ringnet pool: task module ${init.url} has no function as ${what}`) as TypeError & { code: string };
  err.code = 'ERR_POOL_TASK_NOT_FOUND';
  return err;
}

// ---- owner messages ---------------------------------------------------------------

/** Handle control messages until `until` is satisfied, parking between them. */
function pumpControl(until: (m: ToWorker) => boolean): ToWorker {
  for (;;) {
    const seen = Atomics.load(pool, rec + W_NOTIFY);
    const got = wt.receiveMessageOnPort(ctrlPort);
    if (got !== undefined) {
      const m = got.message as ToWorker;
      if (m.t === 'client') addClient(m.info);
      if (until(m)) return m;
      continue;
    }
    Atomics.wait(pool, rec + W_NOTIFY, seen, 1000);
  }
}

function clientOf(id: number): ClientView {
  let c = clients[id];
  if (c === undefined) {
    // Registered before the client could submit, so the message is already queued.
    pumpControl(() => clients[id] !== undefined);
    c = clients[id]!;
  }
  return c;
}

function post(m: FromWorker): void {
  port.postMessage(m);
}

// ---- running tasks ----------------------------------------------------------------

const RESOLVED = Promise.resolve();

/** Mirrors this worker's W_AWAKE word. */
let awake = false;

function setAwake(): void {
  if (awake) return;
  awake = true;
  Atomics.store(pool, rec + W_AWAKE, 1);
}

function setAsleep(): void {
  awake = false;
  Atomics.store(pool, rec + W_AWAKE, 0);
}

/** When this worker last became idle; 0 while it has not waited since its last task. */
let idleSince = performance.now();
let hopped = false;

function pushCompletion(c: ClientView, i: number, seq: number): void {
  while (!c.cq.push(i, seq)) Atomics.wait(pool, rec + W_NOTIFY, Atomics.load(pool, rec + W_NOTIFY), 1);
  const i32 = c.block.i32;
  if (Atomics.load(i32, C_SLEEPING) !== 0) {
    Atomics.add(i32, C_CQ_SIGNAL, 1);
    Atomics.notify(i32, C_CQ_SIGNAL, 1);
  }
}

/**
 * Publish the result already written into the slot. When the submitter cancelled the
 * task meanwhile, hand the slot back and wait to be terminated: the owner was asked to
 * stop this worker, and a new task started now would be killed with it.
 */
function commit(cid: number, c: ClientView, i: number, seq: number, msgTag: number, msgValue: unknown): void {
  const i32 = c.block.i32;
  const h = c.block.h(i);
  const running = ctrl(seq, ST_RUNNING);
  if (Atomics.compareExchange(i32, h + S_CTRL, running, ctrl(seq, ST_DONE)) === running) {
    Atomics.sub(pool, P_PENDING, 1);
    if (msgTag >= 0) {
      try {
        post({ t: 'res', c: cid, i, s: seq, tag: msgTag, v: msgValue });
      } catch (err) {
        post({ t: 'res', c: cid, i, s: seq, tag: T_ERROR, v: serializeThrown(err).bytes });
      }
    }
    Atomics.store(pool, rec + W_CUR, -1);
    // Awake before the submitter can hear of the result: its next submit must see this
    // worker as about to poll, or it would wake another one for a task this one takes.
    setAwake();
    pushCompletion(c, i, seq);
    idleSince = 0; // idle() starts the expiry clock
    hopped = false;
    return;
  }
  const cancelled = ctrl(seq, ST_CANCELLED);
  if (Atomics.compareExchange(i32, h + S_CTRL, cancelled, ctrl(seq, ST_DEAD)) === cancelled) pushCompletion(c, i, seq);
  for (;;) Atomics.wait(pool, rec + W_NOTIFY, Atomics.load(pool, rec + W_NOTIFY));
}

function finishValue(cid: number, c: ClientView, i: number, seq: number, value: unknown): void {
  let fits: boolean;
  try {
    fits = encode(c.block, i, value, 0);
  } catch (err) {
    finishThrow(cid, c, i, seq, err);
    return;
  }
  if (fits) {
    commit(cid, c, i, seq, -1, undefined);
    return;
  }
  // Too large for the slot: the value goes by message (structured clone) after the
  // commit. encode() already ran v8.serialize on it, so the clone will not fail.
  c.block.i32[c.block.h(i) + S_TAG] = T_MSG;
  commit(cid, c, i, seq, T_V8, value);
}

function finishThrow(cid: number, c: ClientView, i: number, seq: number, thrown: unknown): void {
  const big = encodeThrown(c.block, i, thrown);
  if (big === null) {
    commit(cid, c, i, seq, -1, undefined);
    return;
  }
  c.block.i32[c.block.h(i) + S_TAG] = T_MSG;
  commit(cid, c, i, seq, T_ERROR, big);
}

/** Run one popped task. Returns true when it went asynchronous (the loop must stop). */
function runOne(key: number, seq: number): boolean {
  const cid = key >>> 16;
  const i = key & 0xffff;
  const c = clientOf(cid);
  const b = c.block;
  const i32 = b.i32;
  const h = b.h(i);
  Atomics.store(pool, rec + W_CUR_SEQ, seq);
  Atomics.store(pool, rec + W_CUR, key);
  i32[h + S_WORKER] = init.index;
  const queued = ctrl(seq, ST_QUEUED);
  if (Atomics.compareExchange(i32, h + S_CTRL, queued, ctrl(seq, ST_RUNNING)) !== queued) {
    // Cancelled while queued: tell the submitter the slot is free again.
    Atomics.store(pool, rec + W_CUR, -1);
    const cancelled = ctrl(seq, ST_CANCELLED);
    if (Atomics.compareExchange(i32, h + S_CTRL, cancelled, ctrl(seq, ST_DEAD)) === cancelled) pushCompletion(c, i, seq);
    return false;
  }
  const nameLen = i32[h + S_NAME_LEN];
  const name = nameLen === 0 ? '' : decodeName(b, i);
  let result: unknown;
  try {
    let arg: unknown;
    if (i32[h + S_TAG] === T_MSG) {
      post({ t: 'need', c: cid, i, s: seq });
      const m = pumpControl((m) => m.t === 'arg' && m.c === cid && m.i === i && m.s === seq);
      if (m.t === 'arg' && !m.ok) throw deserializeThrown(m.err.tag, m.err.bytes);
      arg = m.t === 'arg' && m.ok ? m.v : undefined;
    } else {
      arg = decode(b, i, nameLen);
    }
    const fn = lookup(name);
    if (fn === null) throw notFound(name);
    result = fn(arg);
  } catch (err) {
    finishThrow(cid, c, i, seq, err);
    return false;
  }
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(
      (v) => {
        finishValue(cid, c, i, seq, v);
        loop();
      },
      (err) => {
        finishThrow(cid, c, i, seq, err);
        loop();
      },
    );
    return true;
  }
  finishValue(cid, c, i, seq, result);
  return false;
}

// ---- retiring -----------------------------------------------------------------------

function exitNow(): never {
  process.exit(0);
}

/** Give up this worker's place in the pool (the owner then sees a clean exit). */
function retire(): boolean {
  if (Atomics.compareExchange(pool, rec + W_STATE, WS_READY, WS_RETIRED) === WS_READY) Atomics.sub(pool, P_LIVE, 1);
  return true;
}

/**
 * Capacity was tuned below the live workers: leave if still too many. Several woken
 * workers check at once, so the live count is lowered by compare-and-swap, only while
 * it is above capacity: otherwise all of them could see "too many" and all leave.
 */
function retireIfOverCap(): boolean {
  // Owning READY is what entitles this worker to lower P_LIVE (the owner does the same
  // with READY -> FREE when a worker exits without retiring).
  if (Atomics.compareExchange(pool, rec + W_STATE, WS_READY, WS_RETIRED) !== WS_READY) return true;
  for (;;) {
    const live = Atomics.load(pool, P_LIVE);
    if (live <= Atomics.load(pool, P_CAP)) {
      Atomics.store(pool, rec + W_STATE, WS_READY);
      return false;
    }
    if (Atomics.compareExchange(pool, P_LIVE, live, live - 1) === live) return true;
  }
}

/**
 * Idle past `expiry`. Leaving races with a submitter that saw this worker as live and so
 * asked for no new one; so leave first, then look at the queue, and come back if work
 * arrived (the submitter pushes first, then looks at the live count: one of the two sees
 * the other).
 */
function retireIdle(): boolean {
  retire();
  if (!sq.isEmpty() && !(Atomics.load(pool, P_PENDING) & PENDING_CLOSED)) {
    for (;;) {
      const live = Atomics.load(pool, P_LIVE);
      if (live >= Atomics.load(pool, P_CAP)) break;
      if (Atomics.compareExchange(pool, P_LIVE, live, live + 1) === live) {
        Atomics.store(pool, rec + W_STATE, WS_READY);
        idleSince = performance.now();
        return false;
      }
    }
  }
  return true;
}

// ---- the loop -----------------------------------------------------------------------

/** True when this thread's event loop has nothing but message ports to serve. */
function eventLoopIdle(): boolean {
  const active = process.getActiveResourcesInfo();
  for (let k = 0; k < active.length; k++) if (active[k] !== 'MessagePort') return false;
  return true;
}

/** Back from parking (woken, timed out or never parked): no longer a sleeper. */
function unpark(): void {
  Atomics.compareExchange(pool, rec + W_ASLEEP, 1, 0);
  Atomics.sub(pool, P_SLEEPERS, 1);
}

const resume = (): void => {
  unpark();
  loop();
};

/**
 * Nothing to pop. Returns true to try again, false when the loop must return (an
 * event-loop hop or an async wait was scheduled, or the worker is leaving).
 */
function idle(): boolean {
  // Idle but awake: a submitter that sees this needs not wake anyone for one task.
  setAwake();
  // First let the microtasks the last task queued run (a microtask hop: no event-loop
  // turn, no syscall; timers and I/O it left behind make eventLoopIdle() false below, so
  // the worker then parks without blocking its event loop). Then poll for up to SPIN_US,
  // then park.
  if (!hopped) {
    hopped = true;
    RESOLVED.then(loop);
    return false;
  }
  if (SPIN_US > 0) {
    const until = performance.now() + SPIN_US / 1000;
    do {
      for (let k = 0; k < 64; k++) if (!sq.isEmpty()) return true;
    } while (performance.now() < until);
  }
  let timeout = Infinity;
  if (!(pool[P_FLAGS] & F_DISABLE_PURGE)) {
    const now = performance.now();
    if (idleSince === 0) idleSince = now;
    timeout = idleSince + Atomics.load(pool, P_EXPIRY_MS) - now;
    if (timeout <= 0) {
      if (retireIdle()) exitNow();
      return true;
    }
  }
  // Sleeper first, then no longer awake, then the last look at the queue: a submitter
  // that saw this worker awake or not parked pushed before that look; one that did not
  // sees it parked and wakes it (bumping W_WAKE, so the wait below cannot miss it).
  Atomics.add(pool, P_SLEEPERS, 1);
  Atomics.store(pool, rec + W_SLEPT, Atomics.add(pool, P_SLEEP_TICKET, 1));
  Atomics.store(pool, rec + W_ASLEEP, 1);
  setAsleep();
  const seen = Atomics.load(pool, rec + W_WAKE);
  if (!sq.isEmpty() || Atomics.load(pool, P_PENDING) & PENDING_CLOSED || Atomics.load(pool, P_LIVE) > Atomics.load(pool, P_CAP)) {
    unpark();
    return true;
  }
  if (eventLoopIdle()) {
    Atomics.wait(pool, rec + W_WAKE, seen, timeout);
    unpark();
    return true;
  }
  const r = waitAsync(pool, rec + W_WAKE, seen, timeout);
  if (!r.async) {
    unpark();
    return true;
  }
  r.value.then(resume);
  return false;
}

function loop(): void {
  const sliceStart = performance.now();
  let ran = 0;
  for (;;) {
    if (Atomics.load(pool, P_PENDING) & PENDING_CLOSED) {
      retire();
      exitNow();
    }
    if (retireIfOverCap()) exitNow();
    if (!sq.pop()) {
      if (idle()) continue;
      return;
    }
    if (awake) setAsleep();
    if (runOne(sq.a, sq.b)) return;
    if ((++ran & 63) === 0 && performance.now() - sliceStart > SLICE_MS) {
      setImmediate(loop);
      return;
    }
  }
}

/**
 * CommonJS through require() (synchronous, and it spares each worker the ESM loader's
 * memory); ES modules through a real import().
 */
async function load(url: string): Promise<Record<string, unknown>> {
  if (url.startsWith('file:') && !url.endsWith('.mjs')) {
    try {
      const exports = require(fileURLToPath(url)) as unknown;
      return { default: exports, ...(exports !== null && typeof exports === 'object' ? exports : {}) };
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw err;
    }
  }
  return importModule(url);
}

async function main(): Promise<void> {
  try {
    ns = await load(init.url);
  } catch (err) {
    loadError = err;
  }
  if (Atomics.compareExchange(pool, rec + W_STATE, WS_STARTING, WS_READY) !== WS_STARTING) exitNow();
  loop();
}

void main();
