// The example's routes, and its handler as a module's default export (with
// `--loops K > 1` every loop thread loads this module; see main.ts).
//
//   GET /            "Hello, World!" (13 bytes, text/plain): the benchmark route
//   GET /plaintext   the same
//   GET /json        {"message":"Hello, World!"}
//   POST /echo       the request body back (Content-Length or chunked bodies)
//   GET /headers     the request's headers, one "name: value" a line
import { createHttpHandler } from './handler';
import { Router, StaticResponse } from './router';

/** The example's router. */
export function appRouter(): Router {
  const hello = new StaticResponse('Hello, World!');
  return new Router()
    .get('/', hello)
    .get('/plaintext', hello)
    .get('/json', (_req, res) => {
      res.header('Content-Type', 'application/json').end(JSON.stringify({ message: 'Hello, World!' }));
    })
    .post('/echo', (req, res) => {
      res.header('Content-Type', 'application/octet-stream').end(req.body);
    })
    .get('/headers', (req, res) => {
      res.header('Content-Type', 'text/plain').end(req.headers().map(([k, v]) => `${k}: ${v}\n`).join(''));
    });
}

/** Timeouts may be set from the environment (the tests use short ones). */
function envMs(name: string): number | undefined {
  const v = process.env[name];
  return v ? Number(v) : undefined;
}

export default createHttpHandler(appRouter(), {
  requestTimeout: envMs('HTTP_REQUEST_TIMEOUT_MS'),
  idleTimeout: envMs('HTTP_IDLE_TIMEOUT_MS'),
});
