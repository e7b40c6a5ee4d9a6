// npm run example:http -- --port N [--loops K]
// The HTTP/1.1 example server on 127.0.0.1 (port 0: any; the chosen port is printed).
import { serve } from 'ringnet';
import { HTTP_SERVE_OPTIONS } from './handler';
import { argInt } from '../args';

async function main(): Promise<void> {
  const port = argInt('--port', 8080);
  const loops = argInt('--loops', 1);
  const app = loops > 1 ? require.resolve('./app') : (await import('./app')).default;
  const engine = await serve(app, `tcp://127.0.0.1:${port}`, { ...HTTP_SERVE_OPTIONS, loops });
  console.log(`http example listening on http://127.0.0.1:${engine.address.port} (${loops} loop${loops > 1 ? 's' : ''}, ${engine.backend})`);
  const stop = (): void => {
    engine.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: Error & { code?: string }) => {
  console.error(`http example: ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
