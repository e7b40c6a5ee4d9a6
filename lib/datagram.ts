// The per-datagram view a udp:// handler gets (lib/udp.ts owns the socket).
import type { Data, SocketAddress } from './conn';
import type { UdpSocket } from './udp';
import { makeError } from './errors';
import { formatIp } from './udp-options';
import { A_FAMILY, A_IP, A_PORT, RD_FLAGS, RD_LEN, RD_OFF, RXF_TRUNCATED } from './udp-layout';

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

