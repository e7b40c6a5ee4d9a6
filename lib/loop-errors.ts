// The errors a loop reports, from the codes native gives it: an errno, or (>=
// TLS_ERR_BASE) a TLS failure native keeps the text of. Used by lib/loop.ts (close,
// TLS and asyncWrite errors) and lib/loop-dials.ts (dial failures).
import { addon, NativeLoop } from './native';
import { errnoError, makeError, RingnetError } from './errors';
import { TLS_ERR_BASE } from './layout';

/** e as an Error (a thrown non-Error wrapped). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * EV_CLOSE / EV_TLS_ERROR / EV_TASK_DONE arg as an Error: a TLS code's own
 * (`ringnet: TLS: …`), the errno's name as `code`, or ENOBUFS from the loop, which
 * is its outbound cap (issue 8, item 5): `ERR_RINGNET_OUTBOUND_LIMIT`.
 */
export function loopError(native: NativeLoop, outboundLimit: number, arg: number, what = 'ringnet: connection failed'): RingnetError {
  if (arg >= TLS_ERR_BASE) {
    const t = native.tlsError(arg);
    if (t) return makeError(t.code, `ringnet: TLS: ${t.message}`);
    return makeError('ERR_SSL_PROTOCOL_ERROR', 'ringnet: TLS: protocol error');
  }
  const name = addon.errname(arg);
  if (name !== 'ENOBUFS') return errnoError(name, arg, what);
  const e = makeError(
    'ERR_RINGNET_OUTBOUND_LIMIT',
    `${what}: outbound bytes would pass outboundLimit (${outboundLimit} bytes): the peer does not read as fast as the handler writes, and the handler did not wait for onWritable`,
  );
  e.errno = -arg;
  return e;
}

/**
 * An accepted TLS connection's failure before its handshake finished (EV_TLS_ERROR),
 * for onTlsError: a close and a timeout said in TLS terms, the timeout with
 * node:tls's code (its tlsClientError's).
 */
export function handshakeError(err: RingnetError): RingnetError {
  if (err.code === 'ECONNRESET') err.message = 'ringnet: TLS: the client disconnected before the handshake finished (ECONNRESET)';
  else if (err.code === 'ETIMEDOUT') {
    err.code = 'ERR_TLS_HANDSHAKE_TIMEOUT';
    err.message = 'ringnet: TLS: handshake timeout: the client did not finish the handshake in time (handshakeTimeout or idleTimeout)';
  }
  return err;
}
