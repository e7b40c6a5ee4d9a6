// Cross-thread operations on a connection named by its handle. They go through
// the owning loop's task queue and wake fd, so any thread that loaded ringnet
// (main, another loop, a pool worker) may call them.
import { addon } from './native';
import { Data, ConnHandle, toBytes } from './conn';
import { makeError } from './errors';
import { TASK_CLOSE, TASK_WAKE, TASK_WRITE } from './layout';

function checkHandle(h: ConnHandle): void {
  if (!h || typeof h.loop !== 'number' || typeof h.slot !== 'number' || typeof h.gen !== 'number') {
    throw makeError('ERR_INVALID_ARG_TYPE', 'ringnet: expected a connection handle ({ loop, slot, gen } from conn.handle)');
  }
}

// post() answers -ENOTCONN for a connection that is already closed, -ESHUTDOWN
// when its loop is gone.
function result(r: number, what: string): void {
  if (r < 0 && addon.errname(r) === 'ENOTCONN') throw makeError('ERR_RINGNET_CONN_CLOSED', `ringnet: ${what} on a closed connection`);
  if (r < 0) throw makeError('ERR_RINGNET_CLOSED', `ringnet: ${what}: the connection's loop is closed`);
}

/**
 * Queue `data` for the connection from any thread. Throws
 * `ERR_RINGNET_CONN_CLOSED` if the connection has already closed, and
 * `ERR_RINGNET_CLOSED` when its loop is gone. Bytes for a connection that closes
 * after the call are dropped; they never reach a newer connection in its slot.
 */
export function asyncWrite(handle: ConnHandle, data: Data): void {
  checkHandle(handle);
  result(addon.post(handle.loop, TASK_WRITE, handle.slot, handle.gen, toBytes(data), 0), 'asyncWrite()');
}

/** Close the connection (after queued bytes) from any thread; throws as {@link asyncWrite}. */
export function asyncClose(handle: ConnHandle): void {
  checkHandle(handle);
  result(addon.post(handle.loop, TASK_CLOSE, handle.slot, handle.gen), 'asyncClose()');
}

/** Make the owning loop call `onTraffic` for the connection, from any thread; throws as {@link asyncWrite}. */
export function wake(handle: ConnHandle): void {
  checkHandle(handle);
  result(addon.post(handle.loop, TASK_WAKE, handle.slot, handle.gen), 'wake()');
}
