// The ringnet handler of the RESP example: commands are parsed straight from
// conn.peek() (the loop's inbound memory, no copy), executed against the
// store, and all the replies a batch produces are assembled in one buffer and
// written once (ringnet corks it further: one sendmsg per connection per batch).
import type { Conn, EventHandler, TickResult } from 'ringnet';
import { After, execute } from './commands';
import { DEFAULT_RESP_LIMITS, NEED_MORE, parseCommand, RespCommand, RespLimits } from './parser';
import { Reply, Store } from './store';

/** `serve()` options the handler wants: room for a 16 MiB argument, the ticker for active expiry. */
export const RESP_SERVE_OPTIONS = { ticker: true, inboundLimit: 64 << 20 } as const;

/** Replies are handed to write() at about this size, so a long pipeline does not grow one reply without bound. */
const REPLY_CHUNK = 64 * 1024;

interface ConnState {
  /** write() returned false: stop executing until onWritable */
  blocked: boolean;
  /** QUIT or a protocol error: nothing more is read */
  done: boolean;
}

/** An EventHandler serving RESP2 from `store` (one store per loop). */
export function createRespHandler(store: Store = new Store(), limits: RespLimits = DEFAULT_RESP_LIMITS): EventHandler {
  const cmd = new RespCommand();
  const reply = new Reply();
  const queryLimit = RESP_SERVE_OPTIONS.inboundLimit - (1 << 20);

  function send(conn: Conn): boolean {
    if (reply.n === 0) return true;
    const ok = conn.write(reply.buf.subarray(0, reply.n)); // copied into ringnet's staging area
    reply.n = 0;
    return ok;
  }

  function pump(conn: Conn, st: ConnState): void {
    if (st.done || st.blocked) return;
    const b = conn.peek();
    const end = b.length;
    const now = Date.now();
    let off = 0;
    reply.n = 0;
    while (off < end) {
      const r = parseCommand(b, off, end, cmd, limits);
      if (r === NEED_MORE) {
        if (end - off > queryLimit) {
          // Redis's client-query-buffer-limit: a command this large is refused.
          reply.error('ERR Protocol error: query buffer limit reached');
          st.done = true;
        }
        break;
      }
      if (r < 0) {
        reply.error(`ERR ${cmd.error}`);
        st.done = true;
        break;
      }
      off = r;
      if (cmd.argc === 0) continue;
      if (execute(cmd, store, reply, now) === After.Close) {
        st.done = true;
        break;
      }
      if (reply.n >= REPLY_CHUNK && !send(conn)) {
        st.blocked = true;
        break;
      }
    }
    send(conn);
    if (st.done) {
      conn.discard(end);
      conn.close();
    } else if (off > 0) conn.discard(off);
  }

  return {
    onOpen(conn: Conn): void {
      conn.context = { blocked: false, done: false } satisfies ConnState;
    },
    onTraffic(conn: Conn): void {
      pump(conn, conn.context as ConnState);
    },
    onWritable(conn: Conn): void {
      const st = conn.context as ConnState;
      st.blocked = false;
      pump(conn, st);
    },
    onTick(): TickResult {
      store.sweep(Date.now());
      return { delay: 100 };
    },
  };
}

export default createRespHandler();
