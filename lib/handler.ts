import type { Conn } from './conn';
import type { Engine } from './engine';

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

/** What `onTick` returns: ms until the next tick, and an action. */
export interface TickResult {
  delay: number;
  action?: Action;
}

/**
 * Event handler, gnet's `EventHandler` in Node idiom. Every callback is optional
 * and runs on the thread of the loop that owns the connection; a callback that
 * throws closes its connection (`onClose` receives the error) and the loop lives on.
 */
export interface EventHandler {
  /** The engine is ready to accept connections (once per loop). */
  onBoot?(engine: Engine): Action | void;
  /** A connection opened. Bytes returned in `out` are sent before anything else. */
  onOpen?(conn: Conn): OpenResult | Action | void;
  /** Inbound bytes are buffered: read them with `peek`/`next`/`read`. */
  onTraffic?(conn: Conn): Action | void;
  /** A connection closed; `err` is set when it failed (peer reset, handler threw). */
  onClose?(conn: Conn, err?: Error): Action | void;
  /** Outbound bytes fell back under half of `writeBufferCap` after `write` returned false. */
  onWritable?(conn: Conn): Action | void;
  /** Called every `delay` ms when the `ticker` option is on. */
  onTick?(): TickResult | void;
  /** The engine is stopping (once per loop), before connections are closed. */
  onShutdown?(engine: Engine): void;
}
