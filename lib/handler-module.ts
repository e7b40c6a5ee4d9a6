import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import type { EventHandler } from './handler';
import { describeValue, makeError } from './errors';

// A real dynamic import (ESM and CJS handler modules alike): TypeScript would
// compile `import()` to `require()` under CommonJS output.
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;

/** A module reference as a URL string that any thread can import. @internal */
export function moduleHref(ref: string | URL): string {
  if (ref instanceof URL) return ref.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref) && !/^[a-z]:[\\/]/i.test(ref)) return ref; // already a URL (not C:\)
  return pathToFileURL(path.resolve(ref)).href;
}

/**
 * Load a handler module: its default export (or module.exports) is the handler
 * object, or a class to instantiate. Rejects with ERR_RINGNET_INVALID_HANDLER. @internal
 */
export async function loadHandler(ref: string | URL): Promise<EventHandler> {
  const href = moduleHref(ref);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(href);
  } catch (e) {
    const err = makeError('ERR_RINGNET_INVALID_HANDLER', `ringnet: cannot load handler module ${href}: ${(e as Error).message}`);
    (err as Error & { cause?: unknown }).cause = e;
    throw err;
  }
  let h: unknown = mod.default ?? mod;
  // A CJS module imported as ESM puts module.exports on default; an ESM-from-TS
  // build may nest it once more.
  if (h && typeof h === 'object' && 'default' in (h as object) && !hasHandlerMethod(h)) h = (h as { default: unknown }).default;
  if (typeof h === 'function') {
    try {
      h = new (h as new () => unknown)();
    } catch (e) {
      throw makeError('ERR_RINGNET_INVALID_HANDLER', `ringnet: handler class in ${href} threw in its constructor: ${(e as Error).message}`);
    }
  }
  if (!h || typeof h !== 'object' || !hasHandlerMethod(h)) {
    throw makeError('ERR_RINGNET_INVALID_HANDLER', `ringnet: module ${href} exports no handler (expected a default export with onOpen/onTraffic/onClose/… methods, or a class)`);
  }
  checkHandler(h, ` (module ${href})`);
  return h as EventHandler;
}

/**
 * A callback field that is set must be a function (`onTraffic: 5`, `onClose:
 * 'x'` would otherwise fail at the first event, far from the mistake). Throws
 * ERR_RINGNET_INVALID_HANDLER naming the field. @internal
 */
export function checkHandler(h: object, where = ''): void {
  for (const m of METHODS) {
    const v = (h as Record<string, unknown>)[m];
    if (v !== undefined && v !== null && typeof v !== 'function') {
      throw makeError('ERR_RINGNET_INVALID_HANDLER', `ringnet: handler field '${m}' must be a function, got ${describeValue(v)}${where}`);
    }
  }
}

const METHODS = ['onBoot', 'onOpen', 'onTraffic', 'onDatagram', 'onClose', 'onTick', 'onShutdown', 'onWritable', 'onEnd'];

function hasHandlerMethod(h: unknown): boolean {
  return METHODS.some((m) => typeof (h as Record<string, unknown>)[m] === 'function');
}
