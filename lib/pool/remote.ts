/**
 * A client of a pool owned by another thread (`WorkerPool.attach(handle)`): same
 * shared submission queue, same admission counter, its own slots and completion queue.
 * The owner learns of it through the pool's BroadcastChannel; after that, one channel
 * per client carries the rare messages (spawn and kill requests, by-message values).
 */
import { BroadcastChannel } from 'worker_threads';
import { newClientBlock } from './block';
import { PoolClient, type ClientTransport } from './client';
import { invalidArg, unknownKey } from './errors';
import { LAYOUT_VERSION, MAGIC, P_MAGIC, P_NEXT_CLIENT, P_SPAWN_REQ, P_VERSION } from './layout';
import { clientChannel, type FromClient, type ToClient } from './protocol';
import type { AttachOptions, PoolHandle, SubmitOptions } from './types';

/** The largest client id a task reference can carry. */
const MAX_CLIENT_ID = 0x7fff;

/**
 * A pool attached from another thread. Submissions made before the owner acknowledged
 * the attachment are queued locally and sent once it has (see {@link ready}).
 */
export class AttachedPool {
  readonly #client: PoolClient;
  readonly #channel: BroadcastChannel;
  #closed = false;
  /** Resolves when the owner thread has registered this client. */
  readonly ready: Promise<void>;

  /** @internal use {@link WorkerPool.attach}. */
  constructor(handle: PoolHandle, options: AttachOptions = {}) {
    const extra = options !== null && typeof options === 'object' ? unknownKey(options, ['onPanic', 'slots']) : undefined;
    if (extra !== undefined) throw invalidArg(`unknown attach() option '${extra}' (known: onPanic, slots)`);
    if (
      handle === null ||
      typeof handle !== 'object' ||
      handle.kind !== 'ringnet.pool' ||
      !(handle.sab instanceof SharedArrayBuffer)
    ) {
      throw invalidArg('attach() needs the `handle` of a WorkerPool');
    }
    const p = new Int32Array(handle.sab);
    if (p[P_MAGIC] !== MAGIC || p[P_VERSION] !== LAYOUT_VERSION || handle.version !== LAYOUT_VERSION) {
      throw invalidArg(`attach(): pool layout version ${p[P_VERSION]} is not ${LAYOUT_VERSION} (two ringnet copies?)`);
    }
    const id = Atomics.add(p, P_NEXT_CLIENT, 1);
    if (id > MAX_CLIENT_ID) throw invalidArg(`attach(): more than ${MAX_CLIENT_ID} clients attached to one pool`);
    const slots = options.slots ?? 256;
    if (!Number.isInteger(slots) || slots < 1 || slots > 0xffff) throw invalidArg(`slots must be an integer in [1, 65535]`);
    const { info, block } = newClientBlock(id, slots, handle.slotBytes);
    const channel = new BroadcastChannel(clientChannel(handle.channel, id));
    channel.unref();
    this.#channel = channel;
    // Until the owner has opened its end of this client's channel, what is posted on it
    // would be lost: hold it (by-message arguments of tasks submitted before `ready`).
    let held: FromClient[] | null = [];
    const post = (m: FromClient): void => {
      if (held === null) channel.postMessage(m);
      else held.push(m);
    };
    const transport: ClientTransport = {
      wantWorkers: () => {
        if (Atomics.compareExchange(p, P_SPAWN_REQ, 0, 1) === 0) post({ t: 'spawn' });
      },
      kill: (w, key, s) => post({ t: 'kill', w, key, s }),
      stash: (key, s, v) => post({ t: 'stash', key, s, v }),
      drop: (key, s) => post({ t: 'drop', key, s }),
    };
    const client = new PoolClient(handle.sab, block, id, transport, options.onPanic);
    client.paused = true;
    this.#client = client;
    this.ready = new Promise<void>((resolve) => {
      channel.onmessage = (ev: unknown) => {
        const m = (ev as { data: ToClient }).data;
        if (m.t === 'res') client.deliver(m.i, m.s, m.tag, m.v);
        else if (m.t === 'ready' && held !== null) {
          const early = held;
          held = null;
          for (const x of early) channel.postMessage(x);
          client.resume();
          resolve();
        }
      };
    });
    const hello = new BroadcastChannel(handle.channel);
    hello.postMessage({ t: 'attach', info } satisfies FromClient);
    hello.close();
  }

  /** As {@link WorkerPool.submit}. Safe to call from any number of threads at once. */
  submit<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#client.submit<R>(arg, options);
  }

  /** Alias of {@link submit}. */
  run<R = unknown>(arg?: unknown, options?: SubmitOptions): Promise<R> {
    return this.#client.submit<R>(arg, options);
  }

  get cap(): number {
    return this.#client.stats.cap;
  }

  get running(): number {
    return this.#client.stats.running;
  }

  get free(): number {
    return this.#client.stats.free;
  }

  get waiting(): number {
    return this.#client.stats.waiting;
  }

  get pending(): number {
    return this.#client.stats.pending;
  }

  get workers(): number {
    return this.#client.stats.workers;
  }

  get isClosed(): boolean {
    return this.#client.stats.isClosed;
  }

  /** Tasks submitted through this client that have not settled. */
  get inFlight(): number {
    return this.#client.inFlight;
  }

  /**
   * Stop submitting through this client. Tasks in flight still settle; then the
   * client lets go of its channel. Resolves when that is done.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#client.closeClient();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        this.#channel.postMessage({ t: 'detach' } satisfies FromClient);
        this.#channel.close();
        this.#client.dispose();
        resolve();
      };
      if (this.#client.inFlight === 0) finish();
      else this.#client.onIdle = finish;
    });
  }
}

export function attachPool(handle: PoolHandle, options?: AttachOptions): AttachedPool {
  return new AttachedPool(handle, options);
}
