// SNICallback with loops > 1. The callback is a function of the thread that called
// serve() and cannot cross to the loop threads, so the hop goes the other way: a
// loop whose handshake paused on a ClientHello (EV_TLS_SNI; natively paused, the
// loop's other connections go on) posts the server name to the main thread, the
// callback runs there, and its answer comes back to that loop, which builds the
// context and resumes the handshake (loop_tls_sni_answer). The handshake is named
// by (slot, gen) both ways: no table per lookup, and an answer for a connection
// that closed meanwhile finds a newer generation (or none) and is dropped natively.
//
// An answer's options cross once per loop: the main thread numbers each answer
// object (a WeakMap, as `loops: 1` keys its contexts by the object) and sends its
// options the first time a loop needs them, the number alone afterwards; the loop
// keeps options and context under that number until the object is collected on
// the main thread (a FinalizationRegistry tells the loops to forget it) or a
// setSecureContext replaces the options they were merged over.
import type { Worker } from 'node:worker_threads';
import type { NativeTlsContext } from './native';
import { sniContext, sniFailure, SniLoop, TlsOptions } from './tls';

/** Loop → main: a handshake asks for the context of `name`. @internal */
export interface SniAsk {
  type: 'sni';
  slot: number;
  gen: number;
  name: string;
}

/**
 * Main → loop: the answer for the handshake (slot, gen). `ctx`: 0 for the
 * listener's own context, else the answer object's number, with `options` the
 * first time this loop hears of it; `error`: refuse the handshake. @internal
 */
export interface SniReply {
  type: 'sni';
  slot: number;
  gen: number;
  ctx: number;
  options?: TlsOptions;
  error?: { code: string; message: string };
}

/** Main → loop: answer objects collected on the main thread; their contexts can go. @internal */
export interface SniForget {
  type: 'sniForget';
  ids: number[];
}

/** The options a loop thread gets: everything but the callback (a function does not clone). @internal */
export function loopTlsOptions(o: TlsOptions): TlsOptions {
  if (o.SNICallback === undefined) return o;
  const { SNICallback: _cb, ...rest } = o;
  return rest;
}

type SniCallback = NonNullable<TlsOptions['SNICallback']>;

/** The main thread's side: runs the SNICallback for the loops' handshakes. @internal */
export class SniHost {
  private callback: SniCallback | undefined;
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  /** By loop worker: the answer numbers whose options it holds. */
  private readonly sent = new Map<Worker, Set<number>>();
  private readonly collected = new FinalizationRegistry<number>((id) => this.forget(id));
  private forgotten: number[] = [];
  private stopped = false;

  constructor(tls: TlsOptions) {
    this.callback = tls.SNICallback;
  }

  /**
   * setSecureContext: the callback of the new options answers from now on. The
   * loops drop what they built on the 'tls' order that follows, so every answer
   * object's options are sent again.
   */
  reload(tls: TlsOptions): void {
    this.callback = tls.SNICallback;
    for (const s of this.sent.values()) s.clear();
  }

  /** A loop asks (FromWorker 'sni'). Each handshake is answered once: a second cb() is ignored. */
  ask(worker: Worker, m: SniAsk): void {
    if (this.stopped) return;
    let done = false;
    const answer = (err: Error | null, ctxOpts?: TlsOptions): void => {
      if (done) return;
      done = true;
      this.reply(worker, m, err, ctxOpts);
    };
    const cb = this.callback;
    if (typeof cb !== 'function') return answer(null); // removed by a reload while this handshake waited
    try {
      cb(m.name, answer);
    } catch (e) {
      answer(e as Error);
    }
  }

  /** A loop thread started: its answers go to it from now on. */
  attach(worker: Worker): void {
    if (!this.stopped) this.sent.set(worker, new Set());
  }

  /** A loop thread exited: nothing more goes to it. */
  gone(worker: Worker): void {
    this.sent.delete(worker);
  }

  /** engine.stop(): answers that come later are dropped (the loops close their handshakes). */
  stop(): void {
    this.stopped = true;
    this.sent.clear();
  }

  private reply(worker: Worker, m: SniAsk, err: Error | null, ctxOpts: TlsOptions | undefined): void {
    const sent = this.sent.get(worker);
    if (sent === undefined) return; // stopped, or the loop is gone: its handshake went with it
    const out: SniReply = { type: 'sni', slot: m.slot, gen: m.gen, ctx: 0 };
    if (err) {
      out.error = sniFailure(err);
    } else if (ctxOpts !== undefined && ctxOpts !== null) {
      if (typeof ctxOpts !== 'object') {
        out.error = sniFailure(new TypeError('the answer must be TLS options ({ cert, key, … }) or null'));
      } else {
        out.ctx = this.idOf(ctxOpts);
        if (!sent.has(out.ctx)) out.options = loopTlsOptions(ctxOpts);
      }
    }
    try {
      worker.postMessage(out);
      if (out.options !== undefined) sent.add(out.ctx);
    } catch (e) {
      // Options that do not clone (a function, a SecureContext): refuse this handshake.
      worker.postMessage({ type: 'sni', slot: m.slot, gen: m.gen, ctx: 0, error: sniFailure(e) } satisfies SniReply);
    }
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(o, id);
      this.collected.register(o, id);
    }
    return id;
  }

  private forget(id: number): void {
    if (this.stopped) return;
    // Collected objects come in bunches: tell the loops once per turn.
    if (this.forgotten.push(id) > 1) return;
    setImmediate(() => {
      const ids = this.forgotten;
      this.forgotten = [];
      for (const [worker, sent] of this.sent) {
        const theirs = ids.filter((i) => sent.delete(i));
        if (theirs.length > 0) worker.postMessage({ type: 'sniForget', ids: theirs } satisfies SniForget);
      }
    }).unref();
  }
}

/** A loop thread's side: asks the main thread and applies its answers. @internal */
export class SniClient {
  /** By answer number: its options, and the context once a handshake needed it. */
  private readonly answers = new Map<number, { options: TlsOptions; ctx?: NativeTlsContext; error?: unknown }>();

  constructor(
    private readonly core: SniLoop,
    private readonly post: (m: SniAsk) => void,
    private top: TlsOptions,
    private keys: Uint8Array,
  ) {}

  /** EV_TLS_SNI on this loop. */
  ask(slot: number, gen: number): void {
    const name = this.core.native.tlsSniName(slot, gen);
    if (name !== null) this.post({ type: 'sni', slot, gen, name });
  }

  /** The 'tls' order (setSecureContext): answers merge over the new options from now on. */
  reload(top: TlsOptions, keys: Uint8Array): void {
    this.top = top;
    this.keys = keys;
    this.answers.clear();
  }

  forget(ids: readonly number[]): void {
    for (const id of ids) this.answers.delete(id);
  }

  /** The main thread's answer (ToWorker 'sni'). */
  answered(m: SniReply): void {
    const native = this.core.native;
    // Options are kept even when their handshake has gone: the main thread counts them as sent.
    if (m.options !== undefined) this.answers.set(m.ctx, { options: m.options });
    if (native.tlsSniName(m.slot, m.gen) === null) return; // closed meanwhile (or the loop stopped)
    let failure = m.error;
    let ctx: NativeTlsContext | null = null;
    if (failure === undefined && m.ctx !== 0) {
      const a = this.answers.get(m.ctx);
      if (a === undefined) {
        failure = sniFailure(new Error(`answer ${m.ctx} is unknown on this loop`)); // a broken invariant, not a user error
      } else {
        // Built when a handshake first needs it; a failure is kept (the same options fail again).
        if (a.ctx === undefined && a.error === undefined) {
          try {
            a.ctx = sniContext(this.top, a.options, this.keys);
          } catch (e) {
            a.error = e;
          }
        }
        if (a.error !== undefined) failure = sniFailure(a.error);
        else ctx = a.ctx!;
      }
    }
    if (failure !== undefined) native.tlsSniAnswer(m.slot, m.gen, null, failure.code, failure.message);
    else native.tlsSniAnswer(m.slot, m.gen, ctx);
    this.core.dispatchPending(); // a refusal closed it: its EV_TLS_ERROR
  }
}
