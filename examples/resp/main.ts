// npm run example:resp -- --port N [--loops K]
// The RESP (Redis protocol) example server on 127.0.0.1; try `redis-cli -p N ping`.
import { serve, WorkerPool } from 'ringnet';
import { RESP_SERVE_OPTIONS } from './handler';
import { argInt } from '../args';

async function main(): Promise<void> {
  const port = argInt('--port', 6380);
  const loops = argInt('--loops', 1);
  // One loop: the store lives on it. Several: the store is behind a pool of one
  // worker (store-task.ts) that every loop submits to (measured in the README).
  const pool = loops > 1 ? new WorkerPool(require.resolve('./store-task'), { size: 1 }) : undefined;
  const app = loops > 1 ? require.resolve('./pooled-handler') : (await import('./handler')).default;
  const engine = await serve(app, `tcp://127.0.0.1:${port}`, { ...RESP_SERVE_OPTIONS, loops, data: pool ? { pool: pool.handle } : undefined });
  console.log(`resp example listening on 127.0.0.1:${engine.address.port} (${loops} loop${loops > 1 ? 's' : ''}, ${engine.backend})`);
  const stop = (): void => {
    engine.stop().then(() => pool?.release()).then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: Error & { code?: string }) => {
  console.error(`resp example: ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
