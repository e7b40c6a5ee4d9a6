/**
 * Messages between the owner thread, its workers and attached clients. Only the slow
 * paths use them: registration of a client, values too large or too exotic for a slot,
 * spawn and kill requests. Tasks themselves never do.
 */
import type { MessagePort } from 'worker_threads';

/** A client block as workers need it to reach that client's slots and queue. */
export interface ClientInfo {
  id: number;
  sab: SharedArrayBuffer;
  slots: number;
  slotBytes: number;
  cqCap: number;
}

/** `workerData` of a pool worker. */
export interface WorkerInit {
  poolSab: SharedArrayBuffer;
  index: number;
  /** Task module, as a file: URL. */
  url: string;
  clients: ClientInfo[];
  /** Owner → worker control messages (received synchronously). */
  ctrl: MessagePort;
  userData: unknown;
  /** Microseconds of polling before sleeping (see worker.ts). */
  spinUs: number;
}

/** Owner → worker, on the control port. */
export type ToWorker =
  | { t: 'client'; info: ClientInfo }
  | { t: 'arg'; c: number; i: number; s: number; ok: true; v: unknown }
  | { t: 'arg'; c: number; i: number; s: number; ok: false; err: { tag: number; bytes: Uint8Array } };

/** Worker → owner, on parentPort. */
export type FromWorker =
  | { t: 'need'; c: number; i: number; s: number }
  | { t: 'res'; c: number; i: number; s: number; tag: number; v: unknown };

/** Attached client → owner, on the pool's channel (registration) or the client's. */
export type FromClient =
  | { t: 'attach'; info: ClientInfo }
  | { t: 'spawn' }
  | { t: 'kill'; w: number; key: number; s: number }
  | { t: 'stash'; key: number; s: number; v: unknown }
  | { t: 'drop'; key: number; s: number }
  | { t: 'detach' };

/** Owner → attached client, on the client's channel. */
export type ToClient =
  | { t: 'ready' }
  | { t: 'res'; i: number; s: number; tag: number; v: unknown }
  | { t: 'refused'; reason: string };

/** Name of an attached client's own BroadcastChannel. */
export function clientChannel(pool: string, id: number): string {
  return `${pool}/c${id}`;
}
