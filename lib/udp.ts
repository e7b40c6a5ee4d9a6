// UDP (issue 10), the JS half: a socket on a loop (UdpSocket); the per-datagram
// view handlers get is lib/datagram.ts, the options and addresses lib/udp-options.ts,
// the shared-memory layout lib/udp-layout.ts. Native side: binding_udp.cc,
// native/core/loop/loop_udp.cc (batches: one recvmmsg -> one call of dispatch()
// below -> one sendmmsg of what the handler queued), transport/udp.cc, sys/udp_*.cc.
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { addon } from './native';
import type { Data, SocketAddress } from './conn';
import { Action } from './handler';
import type { EventHandler } from './handler';
import { makeError } from './errors';
import { Datagram } from './datagram';
import { formatUdp, invalidAddr, splitTarget, UdpOptions, UdpStats, UdpTarget } from './udp-options';
import { A_FAMILY, MAX_PAYLOAD, RX_COUNT, RX_HEADER, RX_STRIDE, STAT_NAMES, TX_COUNT, TX_HEADER, TX_SRC_RX, TX_SRC_STAGING, TX_STAGED, TX_STRIDE, UDP_LAYOUT_VERSION, US_SEND_ERRORS } from './udp-layout';

export { Datagram } from './datagram';
export type { UdpOptions, UdpStats, UdpTarget } from './udp-options';

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
