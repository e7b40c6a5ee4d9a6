// A loop's dials waiting for their connect (and TLS handshake): tag → waiter.
// Native reports each by tag, EV_OPEN (arg = tag) or EV_DIAL_FAIL [tag, code].
import type { Conn } from './conn';
import type { ResolvedCodec } from './codec';
import { addon, NativeLoop } from './native';
import { errnoError, makeError, RingnetError } from './errors';
import { TLS_ERR_BASE } from './layout';

/** A dial waiting for its connect (EV_OPEN with arg = tag, or EV_DIAL_FAIL). */
export interface DialWaiter {
  resolve(c: Conn): void;
  reject(e: Error): void;
  context: unknown;
  /** tcp://host:port as asked, for error messages. */
  where: string;
  host: string;
  port: number;
  codec: ResolvedCodec | undefined;
}

export class DialTable {
  private readonly waiting = new Map<number, DialWaiter>();
  private next = 1;

  /** Register w; its tag (1 .. 2^31-1, wrapping). */
  add(w: DialWaiter): number {
    const tag = this.next;
    this.next = tag >= 0x7fffffff ? 1 : tag + 1;
    this.waiting.set(tag, w);
    return tag;
  }

  /** The waiter of tag, removed; undefined for an accepted connection (tag 0) or one already settled. */
  take(tag: number): DialWaiter | undefined {
    const w = tag > 0 ? this.waiting.get(tag) : undefined;
    if (w) this.waiting.delete(tag);
    return w;
  }

  /** EV_DIAL_FAIL: reject tag's dial with the errno's name as code (or the TLS failure's own). */
  failed(native: NativeLoop, tag: number, code: number): void {
    const w = this.take(tag);
    if (!w) return;
    let e: RingnetError & { address?: string; port?: number };
    if (code >= TLS_ERR_BASE) {
      // The handshake of a tls:// dial failed (a timeout is ETIMEDOUT, below).
      const t = native.tlsError(code);
      e = makeError(t?.code ?? 'ERR_SSL_PROTOCOL_ERROR', `ringnet: dial ${w.where}: TLS: ${t?.message ?? 'protocol error'}`);
    } else {
      const name = addon.errname(code);
      e = errnoError(name, code, name === 'ECANCELED' ? `ringnet: dial ${w.where} cancelled (the engine stopped)` : `ringnet: dial ${w.where}`);
      e.syscall = 'connect';
    }
    e.address = w.host;
    e.port = w.port;
    w.reject(e);
  }

  /** Reject every dial still waiting. */
  rejectAll(err: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(err);
  }
}
