// A tiny router (exact paths, per method) and the response writer. Responses
// are written with conn.write(), which ringnet corks: every response a batch
// of pipelined requests produces leaves in one sendmsg at the end of the batch.
import type { Conn } from 'ringnet';
import type { HttpRequest } from './parser';

/** Reason phrases of the statuses this server sends. */
export const STATUS: Record<number, string> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Content Too Large', 417: 'Expectation Failed',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

// The Date header, rebuilt at most once a second (as node:http and Bun do).
let dateAt = 0;
let dateLine = '';
/** Bumped whenever the Date line changes (static responses rebuild then). */
export let dateGen = 0;

/** `Date: …\r\n` for now; `now` is Date.now(). */
export function dateHeader(now: number): string {
  if (now - dateAt >= 1000 || dateLine === '') {
    dateAt = now - (now % 1000);
    dateLine = `Date: ${new Date(dateAt).toUTCString()}\r\n`;
    dateGen++;
  }
  return dateLine;
}

/**
 * A response for one request. Reused per loop: call `status`/`header`, then
 * `end(body)` once, before the route handler returns.
 */
export class HttpResponse {
  /** @internal */ conn: Conn | null = null;
  /** @internal */ req: HttpRequest | null = null;
  /** @internal */ now = 0;
  /** @internal */ ended = false;
  /** @internal */ code = 200;
  /** @internal */ extra = '';
  /** @internal the response said Connection: close */ closeAfter = false;
  /** @internal every write() returned true (outbound under writeBufferCap) */ ok = true;

  /** @internal */
  reset(conn: Conn, req: HttpRequest, now: number): void {
    this.conn = conn;
    this.req = req;
    this.now = now;
    this.ended = false;
    this.code = 200;
    this.extra = '';
    this.closeAfter = !req.keepAlive;
    this.ok = true;
  }

  /** Set the status code (200 by default). */
  status(code: number): this {
    this.code = code;
    return this;
  }

  /** Add a response header (no CR/LF in name or value). */
  header(name: string, value: string | number): this {
    const v = String(value);
    if (/[\r\n]/.test(name) || /[\r\n]/.test(v)) throw new Error(`header ${name}: CR/LF in a header`);
    if (name.toLowerCase() === 'connection' && /\bclose\b/i.test(v)) {
      this.closeAfter = true;
      return this;
    }
    this.extra += `${name}: ${v}\r\n`;
    return this;
  }

  /** Send the response with `body` (string: UTF-8) and its Content-Length. */
  end(body: string | Uint8Array = ''): void {
    if (this.ended) throw new Error('response already ended');
    this.ended = true;
    const conn = this.conn!;
    const req = this.req!;
    const len = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    let head = `HTTP/1.1 ${this.code} ${STATUS[this.code] ?? 'Unknown'}\r\n${dateHeader(this.now)}${this.extra}Content-Length: ${len}\r\n`;
    head += this.closeAfter ? 'Connection: close\r\n\r\n' : req.minor === 0 ? 'Connection: keep-alive\r\n\r\n' : '\r\n';
    const noBody = req.method === 'HEAD' || this.code === 204 || this.code === 304;
    if (typeof body === 'string') this.ok = conn.write(noBody ? head : head + body);
    else {
      this.ok = conn.write(head);
      if (!noBody && len > 0) this.ok = conn.write(body);
    }
  }
}

/**
 * A fixed response (status, content type, body) whose bytes are built once per
 * Date change and written as one string: the fast path for constant routes.
 */
export class StaticResponse {
  private gen = -1;
  private keep = '';
  private keep10 = '';
  private close = '';
  private headKeep = '';
  private headClose = '';
  private readonly body: string;

  constructor(body: string, private readonly contentType = 'text/plain', private readonly code = 200) {
    this.body = body;
  }

  /** @internal write it for `req` (HEAD: without the body). */
  send(conn: Conn, req: HttpRequest, now: number, close: boolean): boolean {
    const date = dateHeader(now);
    if (this.gen !== dateGen) {
      this.gen = dateGen;
      const head = `HTTP/1.1 ${this.code} ${STATUS[this.code]}\r\n${date}Content-Type: ${this.contentType}\r\nContent-Length: ${Buffer.byteLength(this.body)}\r\n`;
      this.headKeep = head + '\r\n';
      this.headClose = head + 'Connection: close\r\n\r\n';
      this.keep = this.headKeep + this.body;
      this.keep10 = head + 'Connection: keep-alive\r\n\r\n' + this.body;
      this.close = this.headClose + this.body;
    }
    if (req.method === 'HEAD') return conn.write(close ? this.headClose : this.headKeep);
    return conn.write(close ? this.close : req.minor === 0 ? this.keep10 : this.keep);
  }
}

/** A route: a function that answers through `res`, or a fixed response. */
export type RouteHandler = ((req: HttpRequest, res: HttpResponse) => void) | StaticResponse;

/** Exact-path routing per method; HEAD is served by GET routes. */
export class Router {
  private readonly routes = new Map<string, Map<string, RouteHandler>>();

  /** Add a route for `method` (upper case) and exact `path`. */
  on(method: string, path: string, fn: RouteHandler): this {
    let m = this.routes.get(path);
    if (!m) this.routes.set(path, (m = new Map()));
    m.set(method.toUpperCase(), fn);
    return this;
  }

  get(path: string, fn: RouteHandler): this {
    return this.on('GET', path, fn);
  }

  post(path: string, fn: RouteHandler): this {
    return this.on('POST', path, fn);
  }

  /**
   * The handler for a request, or a status: 404 (no such path), 405 (path
   * exists; `allowOf` gives the Allow header).
   */
  find(method: string, path: string): RouteHandler | 404 | 405 {
    const m = this.routes.get(path);
    if (!m) return 404;
    const fn = m.get(method) ?? (method === 'HEAD' ? m.get('GET') : undefined);
    return fn ?? 405;
  }

  /** The methods a path answers, for a 405's Allow header. */
  allowOf(path: string): string {
    const m = this.routes.get(path);
    if (!m) return '';
    const list = [...m.keys()];
    if (m.has('GET') && !m.has('HEAD')) list.push('HEAD');
    return list.join(', ');
  }
}
