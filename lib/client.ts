// A client-only engine (issue 10): one loop on this thread, no listener; its
// connections come from engine.dial and get the handler's callbacks.
import type { EventHandler } from './handler';
import { resolveOptions, ServeOptions } from './options';
import { makeError } from './errors';
import type { Engine } from './engine';
import { checkHandler } from './handler-module';
import { startOneLoop } from './serve';
import type { TlsConnectOptions } from './tls';

/**
 * Options of {@link createClient}: those of {@link serve} that concern loops and
 * connections; `tls`: defaults for every `tls://` dial of the engine (a dial's own
 * options override them), e.g. `{ ca, cert, key }`.
 */
export type ClientOptions = Omit<ServeOptions, 'loadBalancing' | 'reusePort' | 'reuseAddr' | 'backlog' | 'tls'> & { tls?: TlsConnectOptions };

/**
 * Start a client engine: one native loop on this thread (backend, pinning and
 * connection options as for {@link serve}) with no listener. Connect with
 * `engine.dial(addr)`; the dialed connections get `handler`'s callbacks as a
 * server's accepted ones do. Stop it with `engine.stop()`.
 *
 * `loops > 1` is refused (`ERR_RINGNET_INVALID_OPTION`): a connection belongs to
 * the thread of its loop, so several client loops mean several threads, each
 * with its own engine; use `serve` with `loops > 1` and dial from its handlers
 * to spread dialed connections across loop threads.
 */
export async function createClient(handler: EventHandler, options: ClientOptions = {}): Promise<Engine> {
  const opts = resolveOptions(options as ServeOptions);
  if (opts.loops > 1) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: createClient runs one loop on this thread (loops: ${opts.loops} asked); dial from a serve() handler for loops on several threads`);
  }
  if (handler === null || typeof handler !== 'object') {
    throw makeError('ERR_RINGNET_INVALID_HANDLER', 'ringnet: handler must be an object with onOpen/onTraffic/… methods');
  }
  checkHandler(handler);
  const tls = options.tls;
  if (tls !== undefined && (tls === null || typeof tls !== 'object')) {
    throw makeError('ERR_RINGNET_INVALID_OPTION', "ringnet: createClient option 'tls' must be an object of tls:// dial defaults");
  }
  return startOneLoop(handler, [], { ...opts, tls: undefined }, tls);
}
