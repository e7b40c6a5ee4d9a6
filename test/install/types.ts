// Type-checked (not run) against the installed package under node16 and bundler
// resolution, as a CJS .ts and as an ESM .mts.
import { serve, Action, Engine, Conn, native } from 'ringnet';
import type { EventHandler, ServeOptions, RingnetError, LoopStats } from 'ringnet';

const handler: EventHandler = {
  onTraffic(c: Conn): Action | void {
    c.write(c.next());
    return Action.None;
  },
  onClose(_c: Conn, err?: Error): void {
    if (err) console.error((err as RingnetError).code);
  },
};

const options: ServeOptions = { loops: 1 };

export async function start(): Promise<Engine> {
  const engine = await serve(handler, 'tcp://127.0.0.1:0', options);
  const port: number = engine.address.port;
  const stats: LoopStats[] = engine.stats();
  const backend: string = native.backend;
  console.log(port, stats.length, backend);
  return engine;
}

// @ts-expect-error the exports map keeps dist/ internals out of reach
export const deep = import('ringnet/dist/conn');
