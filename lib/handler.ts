import type { Conn } from './conn';
import type { Datagram } from './udp';
import type { Engine } from './engine';
import type { RingnetError } from './errors';

/** What a callback asks the engine to do next. */
export enum Action {
  /** Carry on. */
  None = 0,
  /** Close this connection (after its queued bytes are sent). */
  Close = 1,
  /** Stop the whole engine gracefully. */
  Shutdown = 2,
}

/** What `onOpen` may return: bytes to send first, and/or an action. */
export interface OpenResult {
  out?: Uint8Array | string;
  action?: Action;
}

/** Which deadline passed (see {@link EventHandler.onTimeout}). */
export type TimeoutKind = 'idle' | 'read' | 'write';

/** What `onTick` returns: ms until the next tick, and an action. */
export interface TickResult {
  delay: number;
  action?: Action;
}

/** A callback's result, or a promise of it (an `async` callback). */
export type MaybePromise<T> = T | PromiseLike<T>;

/**
 * Event handler, gnet's `EventHandler` in Node idiom. Every callback is optional
 * and runs on the thread of the loop that owns the connection; a callback that
 * throws closes its connection (`onClose` receives the error) and the loop lives on.
 *
 * Connection callbacks may be `async` (return a promise): a rejection is treated
 * like a throw (that connection closes, `onClose` gets the error) and the resolved
 * `Action` is applied when it arrives. Bytes are consumed when the callback calls
 * `next`/`discard`, not when its promise settles: an `async onTraffic` that awaits
 * before consuming is called again when more bytes arrive.
 */
export interface EventHandler {
  /** The engine is ready to accept connections (once per loop). */
  onBoot?(engine: Engine): Action | void;
  /** A connection opened. Bytes returned in `out` are sent before anything else. */
  onOpen?(conn: Conn): MaybePromise<OpenResult | Action | void>;
  /** Inbound bytes are buffered: read them with `peek`/`next`/`read`. */
  onTraffic?(conn: Conn): MaybePromise<Action | void>;
  /**
   * A datagram arrived on a `udp://` socket: `d.next()` is its bytes (a view, valid
   * during the call), `d.remoteAddr` its sender, `d.write()` replies to it. Without
   * this callback `onTraffic` is called with the {@link Datagram} instead (it has
   * `next`/`peek`/`discard`/`write`/`remoteAddr` as a `Conn` does).
   */
  onDatagram?(d: Datagram): MaybePromise<Action | void>;
  /**
   * The peer finished sending (FIN); everything it sent was delivered before. With
   * `allowHalfOpen: false` (the default) writes made in this callback (and queued
   * ones) are sent, then the connection closes; with `allowHalfOpen: true` it stays
   * writable until the handler closes it (`close()`, or `shutdownWrite()`, which
   * then closes it once the FIN is sent).
   */
  onEnd?(conn: Conn): MaybePromise<Action | void>;
  /** A connection closed; `err` is set when it failed (peer reset, handler threw, outbound limit). */
  onClose?(conn: Conn, err?: RingnetError): MaybePromise<Action | void>;
  /**
   * A TLS connection failed before its handshake finished (so before `onOpen`; no
   * `Conn` exists): `err.code` is Node's (`ERR_SSL_WRONG_VERSION_NUMBER` for a
   * peer that did not speak TLS, `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE`,
   * `DEPTH_ZERO_SELF_SIGNED_CERT`, `ECONNRESET` for a peer gone mid-handshake …).
   * Like node:tls's `tlsClientError`.
   */
  onTlsError?(err: RingnetError): void;
  /** Outbound bytes fell back under half of `writeBufferCap` after `write` returned false. */
  onWritable?(conn: Conn): MaybePromise<Action | void>;
  /**
   * A deadline passed: `kind` says which ({@link Conn.setIdleTimeout},
   * `setReadTimeout`, `setWriteTimeout`, or the `idleTimeout` option). The
   * connection stays open: write, extend (set the timeout again) or close it
   * (return `Action.Close`). That kind is off until set again. Without this
   * callback the connection closes at once and `onClose` gets an error with
   * `code: 'ETIMEDOUT'`.
   */
  onTimeout?(conn: Conn, kind: TimeoutKind): MaybePromise<Action | void>;
  /** Called every `delay` ms when the `ticker` option is on. */
  onTick?(): TickResult | void;
  /** The engine is stopping (once per loop), before connections are closed. */
  onShutdown?(engine: Engine): void;
}
