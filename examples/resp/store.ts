// The in-memory store and the reply writer of the RESP example.
//
// Keys and values are latin1 strings: one char per byte, so any bytes round-trip
// (binary-safe), and a Map lookup needs no Buffer. Expiry times live in their
// own Map (as Redis keeps an `expires` dict beside the keyspace): a SET without
// EX costs no second entry. Keys expire lazily (on access) and actively
// (sweep(), called from the ticker, like Redis's activeExpireCycle).

/** The keyspace. */
export class Store {
  readonly values = new Map<string, string>();
  readonly expires = new Map<string, number>();

  /** The live value of `key` (deleting it when expired), or undefined. */
  get(key: string, now: number): string | undefined {
    if (this.expires.size !== 0) {
      const t = this.expires.get(key);
      if (t !== undefined && t <= now) {
        this.expires.delete(key);
        this.values.delete(key);
        return undefined;
      }
    }
    return this.values.get(key);
  }

  /** Set `key`; `expireAt` (ms since the epoch) or 0 for none; `keepTtl` keeps an existing one. */
  set(key: string, value: string, expireAt: number, keepTtl = false): void {
    this.values.set(key, value);
    if (expireAt > 0) this.expires.set(key, expireAt);
    else if (!keepTtl && this.expires.size !== 0) this.expires.delete(key);
  }

  /** Delete `key`; whether it existed (and was live). */
  del(key: string, now: number): boolean {
    if (this.get(key, now) === undefined) return false;
    this.values.delete(key);
    if (this.expires.size !== 0) this.expires.delete(key);
    return true;
  }

  /** Remove up to `budget` expired keys, oldest expiry entries first. */
  sweep(now: number, budget = 200): number {
    let n = 0;
    let seen = 0;
    for (const [k, t] of this.expires) {
      if (++seen > budget) break;
      if (t <= now) {
        this.expires.delete(k);
        this.values.delete(k);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.values.clear();
    this.expires.clear();
  }
}

/**
 * Replies of one batch of commands, assembled in one growing buffer and sent
 * with one write: RESP2 simple strings, errors, integers, bulks, arrays.
 */
export class Reply {
  buf = Buffer.allocUnsafe(64 * 1024);
  n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + k) cap *= 2;
    const nb = Buffer.allocUnsafe(cap);
    this.buf.copy(nb, 0, 0, this.n);
    this.buf = nb;
  }

  /** ASCII bytes as they are (`+OK\r\n`, …). */
  raw(s: string): void {
    this.room(s.length);
    this.n += this.buf.latin1Write(s, this.n);
  }

  /** `-ERR …`; `msg` starts with the error code (ERR, WRONGTYPE). */
  error(msg: string): void {
    this.raw(`-${msg}\r\n`);
  }

  int(v: number | bigint): void {
    this.raw(`:${v}\r\n`);
  }

  nil(): void {
    this.raw('$-1\r\n');
  }

  array(n: number): void {
    this.raw(`*${n}\r\n`);
  }

  /** `$len\r\n` with room for the payload and its CRLF after it; returns where the payload goes. */
  private bulkHeader(len: number): number {
    this.room(len + 24);
    const b = this.buf;
    let n = this.n;
    b[n++] = 0x24;
    n += b.latin1Write(String(len), n);
    b[n++] = 0x0d;
    b[n++] = 0x0a;
    return n;
  }

  /** Ends a bulk whose payload ends at `n`. */
  private bulkEnd(n: number): void {
    this.buf[n++] = 0x0d;
    this.buf[n++] = 0x0a;
    this.n = n;
  }

  /** A bulk string from a latin1 string (the bytes it stands for). */
  bulk(s: string): void {
    let n = this.bulkHeader(s.length);
    if (s.length > 0) n += this.buf.latin1Write(s, n);
    this.bulkEnd(n);
  }

  /** A bulk string copied from bytes. */
  bulkBytes(src: Buffer, s: number, e: number): void {
    const n = this.bulkHeader(e - s);
    src.copy(this.buf, n, s, e);
    this.bulkEnd(n + e - s);
  }
}
