// UDP (issue 10), the JS half: a socket on a loop (UdpSocket), the per-datagram
// view handlers get (Datagram), and the options. Native side: binding_udp.cc,
// native/core/loop/loop_udp.cc (batches: one recvmmsg -> one call of dispatch()
// below -> one sendmmsg of what the handler queued), transport/udp.cc, sys/udp_*.cc.
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { addon } from './native';
import type { Data, SocketAddress } from './conn';
import { Action } from './handler';
import type { EventHandler } from './handler';
import { describeValue, makeError, RingnetError, unknownKey } from './errors';

// The shared-memory layout (native/core/transport/udp.h udp_layout); checked
// against the addon's copy when the first socket opens.
const UDP_LAYOUT_VERSION = 1;
const RX_COUNT = 0;
const RX_HEADER = 4;
const RX_STRIDE = 12;
const TX_COUNT = 0;
const TX_STAGED = 1;
const TX_HEADER = 4;
const TX_STRIDE = 12;
const RD_OFF = 0;
const RD_LEN = 1;
const RD_FLAGS = 2;
const A_FAMILY = 3;
const A_PORT = 4;
const A_IP = 6;
const RXF_TRUNCATED = 1;
const TX_SRC_STAGING = 0;
const TX_SRC_RX = 1;
const STAT_NAMES = [
  'datagramsIn', 'bytesIn', 'datagramsOut', 'bytesOut', 'truncated', 'recvCalls', 'sendCalls', 'sendErrors', 'sendBlocked', 'recvErrors',
] as const;
const US_SEND_ERRORS = 7;
/** The largest payload a UDP datagram can carry (IPv6, without jumbograms). */
const MAX_PAYLOAD = 65527;

/** Counters of one UDP socket. */
export type UdpStats = Record<(typeof STAT_NAMES)[number], number> & {
  /** Sends refused in JS because the queue was full while the socket's send buffer was (see {@link UdpSocket.send}). */
  dropped: number;
};

/** The `udp` option of {@link serve}: how `udp://` listeners are opened. node:dgram's names where it has one. */
export interface UdpOptions {
  /**
   * Bytes of the longest datagram received whole (default 65535: none is cut).
   * A longer one is delivered cut to this size with {@link Datagram.truncated}
   * set (and counted in `stats().truncated`), never silently.
   */
  maxDatagramSize?: number;
  /** Datagrams per receive syscall (`recvmmsg`) and per handler batch (default 32). */
  recvBatch?: number;
  /** Sends that can be queued between two flushes (default 1024). */
  sendQueue?: number;
  /** Bytes of the send staging area that queued datagrams are copied to (default 256 KiB). */
  sendStaging?: number;
  /** SO_RCVBUF in bytes (default: the kernel's). A burst larger than it is dropped by the kernel. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (default: the kernel's). */
  sendBufferSize?: number;
  /** SO_REUSEADDR (default false), e.g. several processes on one multicast port. */
  reuseAddr?: boolean;
  /** An IPv6 socket takes only IPv6 (default false: also IPv4 as ::ffff:a.b.c.d). */
  ipv6Only?: boolean;
  /** SO_BROADCAST (default false). */
  broadcast?: boolean;
  /** IP_TTL / IPV6_UNICAST_HOPS. */
  ttl?: number;
  /** IP_MULTICAST_TTL (default 1). */
  multicastTTL?: number;
  /** IP_MULTICAST_LOOP (default true). */
  multicastLoopback?: boolean;
  /** IP_MULTICAST_IF: an address of the interface (IPv6: `'::%eth0'` or a scope). */
  multicastInterface?: string;
  /** Multicast groups to join at once: `[{ group: '239.1.2.3', iface: '127.0.0.1' }]`. */
  membership?: readonly { group: string; iface?: string }[];
}

const UDP_KNOWN: readonly (keyof UdpOptions)[] = [
  'maxDatagramSize', 'recvBatch', 'sendQueue', 'sendStaging', 'recvBufferSize', 'sendBufferSize', 'reuseAddr', 'ipv6Only',
  'broadcast', 'ttl', 'multicastTTL', 'multicastLoopback', 'multicastInterface', 'membership',
];

function badOpt(name: string, v: unknown, want: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: option 'udp.${name}' must be ${want}, got ${describeValue(v)}`);
}

/** Validate the `udp` option (throws ERR_RINGNET_INVALID_OPTION). @internal */
export function resolveUdpOptions(o: unknown): UdpOptions {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object') throw badOpt('', o, 'an object');
  const extra = unknownKey(o, UDP_KNOWN);
  if (extra !== undefined) throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: unknown option 'udp.${extra}' (known: ${UDP_KNOWN.join(', ')})`);
  const u = o as UdpOptions;
  const int = (k: keyof UdpOptions, min: number, max: number): void => {
    const v = u[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) throw badOpt(k, v, `an integer in ${min}..${max}`);
  };
  const bool = (k: keyof UdpOptions): void => {
    if (u[k] !== undefined && typeof u[k] !== 'boolean') throw badOpt(k, u[k], 'a boolean');
  };
  int('maxDatagramSize', 1, 65535);
  int('recvBatch', 1, 1024);
  int('sendQueue', 1, 1 << 20);
  int('sendStaging', 65536, 1 << 30);
  int('recvBufferSize', 1, 2 ** 31 - 1);
  int('sendBufferSize', 1, 2 ** 31 - 1);
  int('ttl', 1, 255);
  int('multicastTTL', 0, 255);
  bool('reuseAddr');
  bool('ipv6Only');
  bool('broadcast');
  bool('multicastLoopback');
  if (u.multicastInterface !== undefined && typeof u.multicastInterface !== 'string') throw badOpt('multicastInterface', u.multicastInterface, 'a string');
  if (u.membership !== undefined) {
    if (!Array.isArray(u.membership)) throw badOpt('membership', u.membership, 'an array of { group, iface? }');
    for (const m of u.membership) {
      if (m === null || typeof m !== 'object' || typeof m.group !== 'string' || (m.iface !== undefined && typeof m.iface !== 'string')) {
        throw badOpt('membership', m, '{ group: string, iface?: string }');
      }
    }
  }
  return u;
}

/** Native socket (binding_udp.cc). @internal */
interface NativeUdp {
  readonly memory: { rx: ArrayBuffer; rxd: ArrayBuffer; txd: ArrayBuffer; tx: ArrayBuffer; stats: ArrayBuffer };
  readonly address: SocketAddress;
  flush(): number;
  close(): void;
  setOpt(opt: number, value: number): number;
  getOpt(opt: number): number;
  multicastInterface(iface: string): number;
  membership(join: boolean, group: string, iface: string | undefined): number;
  takeError(): string | undefined;
}
interface NativeUdpClass {
  new (loop: object, host: string, port: number, opts: object, dispatch: (count: number) => void): NativeUdp;
  encode(host: string, port: number, out: Int32Array): number;
}
const OPT = { broadcast: 0, ttl: 1, multicastTTL: 2, multicastLoopback: 3, recvBuffer: 4, sendBuffer: 5 } as const;

let layoutChecked = false;
function nativeUdp(): NativeUdpClass {
  const a = addon as unknown as { Udp?: NativeUdpClass; udpLayout?: Record<string, number> };
  if (!layoutChecked) {
    const l = a.udpLayout;
    if (!a.Udp || !l || l.version !== UDP_LAYOUT_VERSION || l.rxHeader !== RX_HEADER || l.rxStride !== RX_STRIDE || l.txHeader !== TX_HEADER ||
      l.txStride !== TX_STRIDE || l.statCount !== STAT_NAMES.length) {
      throw makeError('ERR_RINGNET_ADDON_MISMATCH', 'ringnet: the native addon was built for another UDP layout: rebuild it (npm run build:native)');
    }
    layoutChecked = true;
  }
  return a.Udp!;
}

function formatIp(b: Uint8Array, at: number, family: number): string {
  if (family === 4) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  // RFC 5952: lower-case hex, the longest run of two or more zero groups as '::'.
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Where a datagram goes: `'udp://host:port'`, `'host:port'`, `'[v6]:port'`, or `{ address, port }`. */
export type UdpTarget = string | { address: string; port: number };

function invalidAddr(what: unknown, why: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_ADDR', `ringnet: invalid UDP address ${typeof what === 'string' ? `'${what}'` : describeValue(what)}: ${why}`);
}

function splitTarget(t: UdpTarget): { host: string; port: number } {
  if (t !== null && typeof t === 'object') {
    if (typeof t.address !== 'string' || !Number.isInteger(t.port) || t.port < 0 || t.port > 65535) throw invalidAddr(t, 'expected { address: string, port: 0..65535 }');
    return { host: t.address, port: t.port };
  }
  if (typeof t !== 'string') throw invalidAddr(t, "expected 'udp://host:port' or { address, port }");
  const rest = t.replace(/^udp[46]?:\/\//i, '');
  let host: string;
  let portStr: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw invalidAddr(t, "expected '[ipv6]:port'");
    host = rest.slice(1, end);
    portStr = rest.slice(end + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw invalidAddr(t, 'missing :port');
    host = rest.slice(0, colon);
    portStr = rest.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535) throw invalidAddr(t, `port '${portStr}' is not 0..65535`);
  return { host, port: Number(portStr) };
}

/**
 * One received datagram, as a `Conn`-like view: `next()` / `peek()` return its
 * bytes without copying (a view of the socket's receive buffer, valid until the
 * callback returns: copy what you keep), `remoteAddr` its sender, and `write()`
 * queues a reply to that sender. The same object is reused for every datagram
 * of a socket: do not keep it past the callback either.
 */
export class Datagram {
  /** @internal */ off = 0;
  /** @internal */ len = 0;
  /** @internal */ pos = 0;
  /** @internal */ rec = 0;
  /** @internal */ flags = 0;
  /** @internal */ valid = false;
  private remote: SocketAddress | undefined;

  /** @internal */
  constructor(readonly socket: UdpSocket) {}

  /** @internal */
  set(rec: number, rxd: Int32Array): void {
    this.rec = rec;
    this.off = rxd[rec + RD_OFF];
    this.len = rxd[rec + RD_LEN];
    this.flags = rxd[rec + RD_FLAGS];
    this.pos = 0;
    this.remote = undefined;
    this.valid = true;
  }

  private check(): void {
    if (!this.valid) throw makeError('ERR_RINGNET_STALE_DATAGRAM', 'ringnet: a Datagram is valid only during the callback it was passed to');
  }

  /** The datagram was longer than `udp.maxDatagramSize`: these are its first bytes only (MSG_TRUNC). */
  get truncated(): boolean {
    return (this.flags & RXF_TRUNCATED) !== 0;
  }

  /** Bytes of the datagram not yet consumed by `next` / `discard`. */
  get inboundBuffered(): number {
    return this.len - this.pos;
  }

  /** The datagram's whole length as received (after any truncation). */
  get length(): number {
    return this.len;
  }

  /** Up to `n` (default: all) unconsumed bytes, without consuming them. */
  peek(n?: number): Buffer {
    this.check();
    const avail = this.len - this.pos;
    const k = n === undefined || n > avail ? avail : n < 0 ? 0 : n;
    return this.socket.rxBuf.subarray(this.off + this.pos, this.off + this.pos + k);
  }

  /** Up to `n` (default: all) unconsumed bytes, consumed. */
  next(n?: number): Buffer {
    const b = this.peek(n);
    this.pos += b.length;
    return b;
  }

  /** Consume up to `n` (default: all) bytes; returns how many. */
  discard(n?: number): number {
    const avail = this.len - this.pos;
    const k = n === undefined || n > avail ? avail : n < 0 ? 0 : n;
    this.pos += k;
    return k;
  }

  /** The sender (for a dual-stack IPv6 socket, an IPv4 sender is `::ffff:a.b.c.d`). */
  get remoteAddr(): SocketAddress {
    this.check();
    if (this.remote === undefined) {
      const rxd = this.socket.rxd;
      const fam = rxd[this.rec + A_FAMILY];
      this.remote = {
        family: fam === 6 ? 'IPv6' : 'IPv4',
        address: formatIp(this.socket.rxBytes, (this.rec + A_IP) * 4, fam),
        port: rxd[this.rec + A_PORT],
      };
    }
    return this.remote;
  }

  /** The socket's own address. */
  get localAddr(): SocketAddress {
    return this.socket.address;
  }

  /**
   * Queue `data` as one datagram back to the sender; all of a batch's replies go
   * out with one `sendmmsg` after the batch. Writing a view of this datagram (an
   * echo) copies nothing. Returns false if it was dropped (see {@link UdpSocket.send}).
   */
  write(data: Data): boolean {
    this.check();
    return this.socket.queue(data, this.socket.rxd, this.rec + A_FAMILY);
  }
}

/**
 * A UDP socket on a loop: what a `udp://` listener of {@link serve} opens (see
 * `engine.udpSockets`). Its datagrams go to the handler's `onDatagram` (or
 * `onTraffic`) as {@link Datagram}s, one batch per `recvmmsg`. Events: `'error'`
 * `(err)` for a send the kernel refused (`EACCES` for a broadcast without
 * `broadcast`, `EMSGSIZE`, `ENETUNREACH` …); without a listener those are only
 * counted (`stats().sendErrors`). Methods run on the socket's loop thread.
 */
export class UdpSocket extends EventEmitter {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: SocketAddress;
  /** @internal */ readonly rxBuf: Buffer;
  /** @internal */ readonly rxd: Int32Array;
  /** @internal */ readonly rxBytes: Uint8Array;
  private readonly native: NativeUdp;
  private readonly rxAb: ArrayBuffer;
  private readonly txd: Int32Array;
  private readonly txBuf: Buffer;
  private readonly statsArr: Float64Array;
  private readonly view: Datagram;
  private readonly txCap: number;
  private readonly fn: ((d: Datagram) => unknown) | undefined;
  private readonly family: number;
  private inBatch = false;
  private flushScheduled = false;
  private closed = false;
  private dropped = 0;
  private sendErrorsSeen = 0;
  private readonly addrCache = new Map<string, Int32Array>();

  /** @internal */
  constructor(loop: object, host: string, port: number, opts: UdpOptions, reusePort: boolean, private readonly handler: EventHandler, private readonly shutdown: () => void) {
    super();
    const Udp = nativeUdp();
    this.native = new Udp(loop, host, port, { ...opts, reusePort }, this.dispatch);
    const m = this.native.memory;
    this.address = this.native.address;
    this.family = this.address.family === 'IPv6' ? 6 : 4;
    this.rxAb = m.rx;
    this.rxBuf = Buffer.from(m.rx);
    this.rxd = new Int32Array(m.rxd);
    this.rxBytes = new Uint8Array(m.rxd);
    this.txd = new Int32Array(m.txd);
    this.txBuf = Buffer.from(m.tx);
    this.statsArr = new Float64Array(m.stats);
    this.txCap = (this.txd.length - TX_HEADER) / TX_STRIDE;
    this.view = new Datagram(this);
    const f = handler.onDatagram ?? (handler.onTraffic as ((d: Datagram) => unknown) | undefined);
    this.fn = typeof f === 'function' ? f : undefined;
    try {
      if (opts.broadcast) this.setBroadcast(true);
      if (opts.ttl !== undefined) this.setTTL(opts.ttl);
      if (opts.multicastTTL !== undefined) this.setMulticastTTL(opts.multicastTTL);
      if (opts.multicastLoopback !== undefined) this.setMulticastLoopback(opts.multicastLoopback);
      if (opts.multicastInterface !== undefined) this.setMulticastInterface(opts.multicastInterface);
      for (const g of opts.membership ?? []) this.addMembership(g.group, g.iface);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  // Called by native once per received batch; the sends queued here go out right after.
  private readonly dispatch = (count: number): void => {
    const rxd = this.rxd;
    const n = Math.min(count, rxd[RX_COUNT]);
    const d = this.view;
    const fn = this.fn;
    this.inBatch = true;
    try {
      for (let i = 0; i < n && !this.closed; i++) {
        d.set(RX_HEADER + i * RX_STRIDE, rxd);
        if (fn === undefined) continue;
        try {
          const r = fn.call(this.handler, d);
          if (r === Action.Shutdown) this.shutdown();
          else if (r !== undefined && r !== null && typeof (r as PromiseLike<unknown>).then === 'function') {
            (r as PromiseLike<unknown>).then(
              (a) => {
                if (a === Action.Shutdown) this.shutdown();
              },
              (e: unknown) => this.handlerError(e),
            );
          }
        } catch (e) {
          this.handlerError(e);
        }
      }
    } finally {
      d.valid = false;
      this.inBatch = false;
    }
    if (this.statsArr[US_SEND_ERRORS] !== this.sendErrorsSeen) this.reportSendErrors();
  };

  private handlerError(e: unknown): void {
    // A datagram has no connection to close: the error goes to the socket's
    // 'error' listeners, or is printed as a warning.
    const err = e instanceof Error ? e : new Error(String(e));
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else process.emitWarning(err);
  }

  private reportSendErrors(): void {
    this.sendErrorsSeen = this.statsArr[US_SEND_ERRORS];
    const code = this.native.takeError();
    if (code !== undefined && this.listenerCount('error') > 0) {
      const e = makeError(code, `ringnet: udp send from ${this.address.address}:${this.address.port}: ${code}`);
      e.syscall = 'sendmmsg';
      this.emit('error', e);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Send what is queued now (sends made outside a batch are flushed at the end of the current tick anyway). */
  flush(): void {
    if (this.closed) return;
    this.native.flush();
    if (this.statsArr[US_SEND_ERRORS] !== this.sendErrorsSeen) this.reportSendErrors();
  }

  /** @internal Queue one datagram to the address in words[at..at+7). */
  queue(data: Data, words: Int32Array, at: number): boolean {
    if (this.closed) throw makeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'ringnet: udp socket is closed');
    const txd = this.txd;
    let bytes: Uint8Array | undefined;
    let len: number;
    if (typeof data === 'string') {
      len = Buffer.byteLength(data);
    } else {
      bytes = data instanceof Uint8Array ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
      if (bytes === undefined) throw makeError('ERR_INVALID_ARG_TYPE', 'ringnet: data must be a string, Buffer, TypedArray, DataView or ArrayBuffer');
      len = bytes.length;
    }
    if (len > MAX_PAYLOAD) throw makeError('EMSGSIZE', `ringnet: a UDP datagram carries at most ${MAX_PAYLOAD} bytes, got ${len}`);
    const fromRx = bytes !== undefined && bytes.buffer === this.rxAb;
    let n = txd[TX_COUNT];
    let staged = txd[TX_STAGED];
    if (n >= this.txCap || (!fromRx && staged + len > this.txBuf.length)) {
      this.native.flush();
      n = txd[TX_COUNT];
      staged = txd[TX_STAGED];
      if (n >= this.txCap || (!fromRx && staged + len > this.txBuf.length)) {
        this.dropped++;
        return false;
      }
    }
    const w = TX_HEADER + n * TX_STRIDE;
    if (fromRx) {
      txd[w] = TX_SRC_RX;
      txd[w + 1] = bytes!.byteOffset;
    } else {
      if (bytes === undefined) this.txBuf.write(data as string, staged, len);
      else this.txBuf.set(bytes, staged);
      txd[TX_STAGED] = staged + len;
      txd[w] = TX_SRC_STAGING;
      txd[w + 1] = staged;
    }
    txd[w + 2] = len;
    for (let k = 0; k < 7; k++) txd[w + A_FAMILY + k] = words[at + k];
    txd[TX_COUNT] = n + 1;
    if (!this.inBatch) this.scheduleFlush();
    return true;
  }

  private encode(host: string, port: number): Int32Array {
    if (host === 'localhost') host = this.family === 6 ? '::1' : '127.0.0.1';
    const key = `${host}|${port}`;
    let w = this.addrCache.get(key);
    if (w === undefined) {
      if (isIP(host.split('%')[0]) === 0) throw invalidAddr(host, 'expected a numeric IPv4 or IPv6 address (resolve names first, e.g. dns.lookup)');
      w = new Int32Array(7);
      const fam = nativeUdp().encode(host, port, w);
      if (fam === 0) throw invalidAddr(host, 'not a numeric address');
      if (fam !== this.family && !(this.family === 6 && fam === 4)) {
        throw invalidAddr(host, `an IPv${fam} address, but this socket is IPv${this.family}`);
      }
      if (this.addrCache.size >= 1024) this.addrCache.clear();
      this.addrCache.set(key, w);
    }
    return w;
  }

  /**
   * Queue `data` as one datagram to `to` (`'udp://127.0.0.1:9000'`, `'[::1]:9000'`,
   * `{ address, port }`; numeric hosts or `localhost`). Sends are batched: those
   * made in a handler go out with the batch's `sendmmsg`, others at the end of the
   * current tick (or at {@link flush}). Returns false when the datagram was dropped:
   * the queue is full and the kernel's send buffer too (counted in `stats().dropped`).
   */
  sendTo(to: UdpTarget, data: Data): boolean {
    const { host, port } = splitTarget(to);
    return this.queue(data, this.encode(host, port), 0);
  }

  /** node:dgram's argument order: `send(data, port, address)`. */
  send(data: Data, port: number, address: string): boolean {
    return this.sendTo({ address, port }, data);
  }

  private opt(o: number, v: number): void {
    if (this.closed) throw makeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'ringnet: udp socket is closed');
    this.native.setOpt(o, v);
  }

  /** SO_BROADCAST. */
  setBroadcast(on: boolean): void {
    this.opt(OPT.broadcast, on ? 1 : 0);
  }
  /** IP_TTL / IPV6_UNICAST_HOPS (1..255). */
  setTTL(ttl: number): void {
    this.opt(OPT.ttl, ttl);
  }
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (0..255). */
  setMulticastTTL(ttl: number): void {
    this.opt(OPT.multicastTTL, ttl);
  }
  /** IP_MULTICAST_LOOP: whether this host's own multicast sends come back to it. */
  setMulticastLoopback(on: boolean): void {
    this.opt(OPT.multicastLoopback, on ? 1 : 0);
  }
  /** IP_MULTICAST_IF: the interface multicast goes out on (IPv4: one of its addresses). */
  setMulticastInterface(iface: string): void {
    if (this.closed) throw makeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'ringnet: udp socket is closed');
    this.native.multicastInterface(iface);
  }
  /** Join a multicast group (IP_ADD_MEMBERSHIP), on `iface` or the kernel's choice. */
  addMembership(group: string, iface?: string): void {
    if (this.closed) throw makeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'ringnet: udp socket is closed');
    if (isIP(group) === 0) throw invalidAddr(group, 'a multicast group is a numeric address');
    this.native.membership(true, group, iface);
  }
  /** Leave a multicast group (IP_DROP_MEMBERSHIP). */
  dropMembership(group: string, iface?: string): void {
    if (this.closed) throw makeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'ringnet: udp socket is closed');
    if (isIP(group) === 0) throw invalidAddr(group, 'a multicast group is a numeric address');
    this.native.membership(false, group, iface);
  }
  /** SO_RCVBUF as the kernel granted it (Linux doubles what was asked). */
  getRecvBufferSize(): number {
    return this.native.getOpt(OPT.recvBuffer);
  }
  /** SO_SNDBUF as the kernel granted it. */
  getSendBufferSize(): number {
    return this.native.getOpt(OPT.sendBuffer);
  }
  setRecvBufferSize(bytes: number): void {
    this.opt(OPT.recvBuffer, bytes);
  }
  setSendBufferSize(bytes: number): void {
    this.opt(OPT.sendBuffer, bytes);
  }

  /** Counters: datagrams and bytes each way, truncated datagrams, syscalls, send errors. */
  stats(): UdpStats {
    const out = {} as UdpStats;
    STAT_NAMES.forEach((k, i) => (out[k] = this.statsArr[i]));
    out.dropped = this.dropped;
    return out;
  }

  /** Close the socket; sends still queued are flushed first (best effort). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.inBatch) {
      // Inside this socket's own batch (a native call that is still running): no
      // more datagrams reach the handler, the batch's replies go out, and the
      // socket closes once the call has returned.
      setImmediate(() => this.native.close());
      return;
    }
    try {
      this.native.flush();
    } catch {
      // the loop is gone already
    }
    this.native.close();
  }

  /** Whether {@link close} was called (or the engine stopped). */
  get isClosed(): boolean {
    return this.closed;
  }
}

/** `udp://host:port` as the engine lists it. @internal */
export function formatUdp(a: SocketAddress): string {
  return a.family === 'IPv6' ? `udp://[${a.address}]:${a.port}` : `udp://${a.address}:${a.port}`;
}

/** Pick the socket of `list` that can send to `to` (its family), or throw. @internal */
export function pickSocket(list: readonly UdpSocket[], to: UdpTarget): UdpSocket {
  const { host } = splitTarget(to);
  const fam = isIP(host.split('%')[0]) || (host === 'localhost' ? 4 : 0);
  const open = list.filter((s) => !s.isClosed);
  const s = open.find((x) => (x.address.family === 'IPv6' ? 6 : 4) === fam) ?? open.find((x) => x.address.family === 'IPv6' && fam === 4);
  if (s === undefined) {
    throw makeError(
      open.length === 0 ? 'ERR_RINGNET_NO_UDP' : 'ERR_RINGNET_INVALID_ADDR',
      open.length === 0 ? 'ringnet: sendTo: this engine has no open udp:// socket on this thread' : `ringnet: sendTo ${String(host)}: no udp:// socket of that family`,
    );
  }
  return s;
}
