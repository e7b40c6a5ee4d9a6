// The ringnet handler of the HTTP/1.1 example: parses requests straight from
// conn.peek() (a view on the loop's inbound memory, no copy), answers each with
// the router, and consumes them with one discard() per batch. Pipelined
// requests that arrive together are answered in order in the same callback;
// their responses are corked and leave in one sendmsg.
//
// Timeouts: the deadlines feature (conn.setIdleTimeout, issue 10) is not on
// main yet, so this uses the engine's ticker (`ticker: true`, onTick): every
// tick sweeps the loop's connections. A request whose head and body have not
// all arrived `requestTimeout` ms after its first byte gets 408 and is closed
// (slowloris); a keep-alive connection idle for `idleTimeout` ms is closed.
import { Action } from 'ringnet';
import type { Conn, EventHandler, TickResult } from 'ringnet';
import { DEFAULT_LIMITS, HttpLimits, HttpRequest, NEED_MORE, parseRequest, ParseState } from './parser';
import { dateHeader, HttpResponse, Router, StaticResponse, STATUS } from './router';

/** Options of {@link createHttpHandler}. */
export interface HttpServerOptions extends Partial<HttpLimits> {
  /** ms from a request's first byte until all of it must have arrived (408 after). Default 10000. */
  requestTimeout?: number;
  /** ms a keep-alive connection may sit idle between requests. Default 5000. */
  idleTimeout?: number;
}

interface ConnState extends ParseState {
  /** last time bytes arrived or a response was written */
  active: number;
  /** when the request now buffered began arriving (0: none buffered) */
  began: number;
  /** 100 Continue was sent for the request buffered now */
  continued: boolean;
  /** write() returned false: stop answering until onWritable */
  blocked: boolean;
  /** a response said Connection: close */
  done: boolean;
}

/** `serve()` options the handler needs: the ticker drives the timeouts. */
export const HTTP_SERVE_OPTIONS = { ticker: true } as const;

/** An EventHandler serving HTTP/1.1 with `router`. Use with {@link HTTP_SERVE_OPTIONS}. */
export function createHttpHandler(router: Router, options: HttpServerOptions = {}): EventHandler {
  const limits: HttpLimits = {
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_LIMITS.maxHeaderBytes,
    maxHeaders: options.maxHeaders ?? DEFAULT_LIMITS.maxHeaders,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
  };
  const requestTimeout = options.requestTimeout ?? 10000;
  const idleTimeout = options.idleTimeout ?? 5000;
  const tickMs = Math.max(10, Math.min(1000, Math.floor(Math.min(requestTimeout, idleTimeout) / 4)));
  const req = new HttpRequest(limits);
  const res = new HttpResponse();
  const conns = new Set<Conn>();

  function fail(conn: Conn, st: ConnState, code: number, now: number): void {
    conn.write(`HTTP/1.1 ${code} ${STATUS[code]}\r\n${dateHeader(now)}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    st.done = true;
    conn.close();
  }

  // Answers the parsed request; false when write() said outbound is over writeBufferCap.
  function answer(conn: Conn, st: ConnState, now: number): boolean {
    const found = router.find(req.method, req.path);
    if (found instanceof StaticResponse) {
      const ok = found.send(conn, req, now, !req.keepAlive);
      if (!req.keepAlive) {
        st.done = true;
        conn.close();
      }
      return ok;
    }
    res.reset(conn, req, now);
    if (found === 404 || found === 405) {
      if (found === 405) res.header('Allow', router.allowOf(req.path));
      res.status(found).end(STATUS[found]);
    } else {
      try {
        found(req, res);
        if (!res.ended) res.status(500).end('route handler did not end the response');
      } catch (e) {
        if (!res.ended) res.status(500).end('internal error');
        else throw e;
      }
    }
    if (res.closeAfter) {
      st.done = true;
      conn.close();
    }
    return res.ok;
  }

  function pump(conn: Conn, st: ConnState): void {
    if (st.done || st.blocked) return;
    const b = conn.peek();
    const end = b.length;
    if (end === 0) return;
    const now = Date.now();
    st.active = now;
    let off = 0;
    while (off < end) {
      const r = parseRequest(b, off, end, req, st, limits);
      if (r === NEED_MORE) {
        if (req.expectContinue && !st.continued && req.headEnd > off) {
          // Head complete, body pending: tell the client to send it.
          st.continued = true;
          conn.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        break;
      }
      if (r < 0) {
        conn.discard(end); // nothing after a bad request is read
        fail(conn, st, -r, now);
        return;
      }
      off = r;
      st.scan = 0;
      st.continued = false;
      req.expectContinue = false;
      req.headEnd = 0;
      const ok = answer(conn, st, now);
      if (st.done) {
        conn.discard(end);
        return;
      }
      if (!ok) {
        st.blocked = true; // a slow reader: leave the rest buffered until onWritable
        break;
      }
    }
    if (off > 0) conn.discard(off);
    st.began = off < end ? (st.began === 0 || off > 0 ? now : st.began) : 0;
  }

  return {
    onOpen(conn: Conn): void {
      const now = Date.now();
      const st: ConnState = { scan: 0, active: now, began: 0, continued: false, blocked: false, done: false };
      conn.context = st;
      conns.add(conn);
    },
    onTraffic(conn: Conn): void {
      pump(conn, conn.context as ConnState);
    },
    onWritable(conn: Conn): void {
      const st = conn.context as ConnState;
      st.blocked = false;
      pump(conn, st);
    },
    onClose(conn: Conn): void {
      conns.delete(conn);
    },
    onTick(): TickResult {
      const now = Date.now();
      for (const conn of conns) {
        const st = conn.context as ConnState;
        if (st.done || !conn.isOpen) continue;
        if (st.began !== 0) {
          if (now - st.began >= requestTimeout) {
            conn.discard(conn.inboundBuffered);
            fail(conn, st, 408, now);
          }
        } else if (now - st.active >= idleTimeout && conn.outboundBuffered === 0) {
          st.done = true;
          conn.close();
        }
      }
      return { delay: tickMs, action: Action.None };
    },
  };
}
