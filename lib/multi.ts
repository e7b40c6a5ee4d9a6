import type { EventHandler } from './handler';
import type { ResolvedOptions } from './options';
import type { Engine } from './engine';
import { makeError } from './errors';

/** @internal N loops on worker threads (issue 3). */
export async function serveMulti(_h: EventHandler, _t: { host: string; port: number }[], opts: ResolvedOptions): Promise<Engine> {
  throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: loops: ${opts.loops} is not supported yet`);
}
