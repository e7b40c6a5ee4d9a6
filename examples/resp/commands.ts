// The commands of the RESP example, answering as redis-server 7 does (replies
// and error wording). Shared by the ringnet server and the node:net one.
import type { RespCommand } from './parser';
import { Reply, Store } from './store';

/** What {@link execute} asks of the connection after the reply. */
export const enum After {
  None = 0,
  /** QUIT: send the reply, then close. */
  Close = 1,
}

// name, arity (negative: at least), flags, first key, last key, step — COMMAND's table.
const TABLE: Array<[string, number, string[], number, number, number]> = [
  ['ping', -1, ['fast'], 0, 0, 0],
  ['echo', 2, ['fast'], 0, 0, 0],
  ['set', -3, ['write', 'denyoom'], 1, 1, 1],
  ['get', 2, ['readonly', 'fast'], 1, 1, 1],
  ['del', -2, ['write'], 1, -1, 1],
  ['exists', -2, ['readonly', 'fast'], 1, -1, 1],
  ['incr', 2, ['write', 'denyoom', 'fast'], 1, 1, 1],
  ['decr', 2, ['write', 'denyoom', 'fast'], 1, 1, 1],
  ['mget', -2, ['readonly', 'fast'], 1, -1, 1],
  ['mset', -3, ['write', 'denyoom'], 1, -1, 2],
  ['expire', -3, ['write', 'fast'], 1, 1, 1],
  ['ttl', 2, ['readonly', 'fast'], 1, 1, 1],
  ['pttl', 2, ['readonly', 'fast'], 1, 1, 1],
  ['command', -1, ['loading', 'stale'], 0, 0, 0],
  ['config', -2, ['admin', 'noscript'], 0, 0, 0],
  ['select', 2, ['loading', 'fast'], 0, 0, 0],
  ['dbsize', 1, ['readonly', 'fast'], 0, 0, 0],
  ['flushdb', -1, ['write'], 0, 0, 0],
  ['flushall', -1, ['write'], 0, 0, 0],
  ['quit', -1, ['fast'], 0, 0, 0],
];
const ARITY = new Map(TABLE.map((t) => [t[0], t[1]]));

function commandInfo(r: Reply, t: (typeof TABLE)[number]): void {
  r.array(6);
  r.bulk(t[0]);
  r.int(t[1]);
  r.array(t[2].length);
  for (const f of t[2]) r.raw(`+${f}\r\n`);
  r.int(t[3]);
  r.int(t[4]);
  r.int(t[5]);
}

const WRONG_INT = 'ERR value is not an integer or out of range';
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

// A strict decimal integer from argument i (what Redis's string2ll accepts); NaN if not.
function intArg(c: RespCommand, i: number): number {
  const b = c.buf;
  let p = c.start[i];
  const e = c.end[i];
  if (p === e || e - p > 20) return NaN;
  let neg = false;
  if (b[p] === 0x2d) {
    neg = true;
    p++;
  }
  if (p === e || (b[p] === 0x30 && e - p > 1)) return NaN; // no leading zeros, like Redis
  let v = 0;
  for (; p < e; p++) {
    const d = b[p] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  if (neg && v === 0) return NaN;
  return neg ? -v : v;
}

// A stored value as an int64 (INCR); null when it is not one.
function toInt64(s: string): bigint | number | null {
  if (s.length === 0 || s.length > 20) return null;
  if (!/^-?(0|[1-9][0-9]*)$/.test(s) || s === '-0') return null;
  if (s.length < 16) return Number(s);
  const v = BigInt(s);
  return v > INT64_MAX || v < INT64_MIN ? null : v;
}

function unknown(r: Reply, c: RespCommand): void {
  let args = '';
  for (let i = 1; i < c.argc && args.length < 128; i++) args += `'${c.str(i).slice(0, 128)}' `;
  r.error(`ERR unknown command '${c.str(0).slice(0, 128)}', with args beginning with: ${args}`);
}

function incrBy(r: Reply, store: Store, c: RespCommand, by: number, now: number): void {
  const key = c.str(1);
  const old = store.get(key, now);
  let v: bigint | number | null = old === undefined ? 0 : toInt64(old);
  if (v === null) return r.error(WRONG_INT);
  if (typeof v === 'number' && Number.isSafeInteger(v + by)) v += by;
  else {
    const big = BigInt(v) + BigInt(by);
    if (big > INT64_MAX || big < INT64_MIN) return r.error('ERR increment or decrement would overflow');
    v = big;
  }
  store.set(key, String(v), 0, true);
  r.int(v);
}

/**
 * Run one command (argc ≥ 1) against `store`, appending its reply to `r`.
 * `now` is Date.now() for the batch.
 */
export function execute(c: RespCommand, store: Store, r: Reply, now: number): After {
  const argc = c.argc;
  const b = c.buf;
  const s0 = c.start[0];
  const nlen = c.end[0] - s0;
  // Dispatch on the name's length and first letter, then compare it all.
  let c0 = b[s0];
  if (c0 >= 0x41 && c0 <= 0x5a) c0 |= 0x20;
  let name = '';
  switch (nlen) {
    case 3:
      if (c0 === 0x67 && c.is(0, 'get')) name = 'get';
      else if (c0 === 0x73 && c.is(0, 'set')) name = 'set';
      else if (c0 === 0x64 && c.is(0, 'del')) name = 'del';
      else if (c0 === 0x74 && c.is(0, 'ttl')) name = 'ttl';
      break;
    case 4:
      if (c0 === 0x70 && c.is(0, 'ping')) name = 'ping';
      else if (c0 === 0x65 && c.is(0, 'echo')) name = 'echo';
      else if (c0 === 0x69 && c.is(0, 'incr')) name = 'incr';
      else if (c0 === 0x64 && c.is(0, 'decr')) name = 'decr';
      else if (c0 === 0x6d && c.is(0, 'mget')) name = 'mget';
      else if (c0 === 0x6d && c.is(0, 'mset')) name = 'mset';
      else if (c0 === 0x70 && c.is(0, 'pttl')) name = 'pttl';
      else if (c0 === 0x71 && c.is(0, 'quit')) name = 'quit';
      break;
    case 6:
      if (c.is(0, 'exists')) name = 'exists';
      else if (c.is(0, 'expire')) name = 'expire';
      else if (c.is(0, 'config')) name = 'config';
      else if (c.is(0, 'select')) name = 'select';
      else if (c.is(0, 'dbsize')) name = 'dbsize';
      break;
    case 7:
      if (c.is(0, 'command')) name = 'command';
      else if (c.is(0, 'flushdb')) name = 'flushdb';
      break;
    case 8:
      if (c.is(0, 'flushall')) name = 'flushall';
      break;
  }
  if (name === '') {
    unknown(r, c);
    return After.None;
  }
  const arity = ARITY.get(name)!;
  if (arity > 0 ? argc !== arity : argc < -arity) {
    r.error(`ERR wrong number of arguments for '${name}' command`);
    return After.None;
  }
  switch (name) {
    case 'get': {
      const v = store.get(c.str(1), now);
      if (v === undefined) r.nil();
      else r.bulk(v);
      break;
    }
    case 'set':
      set(c, store, r, now);
      break;
    case 'ping':
      if (argc === 1) r.raw('+PONG\r\n');
      else if (argc === 2) r.bulkBytes(b, c.start[1], c.end[1]);
      else r.error("ERR wrong number of arguments for 'ping' command");
      break;
    case 'echo':
      r.bulkBytes(b, c.start[1], c.end[1]);
      break;
    case 'del': {
      let n = 0;
      for (let i = 1; i < argc; i++) if (store.del(c.str(i), now)) n++;
      r.int(n);
      break;
    }
    case 'exists': {
      let n = 0;
      for (let i = 1; i < argc; i++) if (store.get(c.str(i), now) !== undefined) n++;
      r.int(n);
      break;
    }
    case 'incr':
      incrBy(r, store, c, 1, now);
      break;
    case 'decr':
      incrBy(r, store, c, -1, now);
      break;
    case 'mget':
      r.array(argc - 1);
      for (let i = 1; i < argc; i++) {
        const v = store.get(c.str(i), now);
        if (v === undefined) r.nil();
        else r.bulk(v);
      }
      break;
    case 'mset':
      if ((argc - 1) % 2 !== 0) {
        r.error("ERR wrong number of arguments for 'mset' command");
        break;
      }
      for (let i = 1; i < argc; i += 2) store.set(c.str(i), c.str(i + 1), 0);
      r.raw('+OK\r\n');
      break;
    case 'expire': {
      const secs = intArg(c, 2);
      if (Number.isNaN(secs)) {
        r.error(WRONG_INT);
        break;
      }
      let nx = false;
      let xx = false;
      for (let i = 3; i < argc; i++) {
        if (c.is(i, 'nx')) nx = true;
        else if (c.is(i, 'xx')) xx = true;
        else {
          r.error(`ERR Unsupported option ${c.str(i)}`);
          return After.None;
        }
      }
      if (nx && xx) {
        r.error('ERR NX and XX, GT or LT options at the same time are not compatible');
        break;
      }
      const key = c.str(1);
      const v = store.get(key, now);
      const has = store.expires.has(key);
      if (v === undefined || (nx && has) || (xx && !has)) {
        r.int(0);
        break;
      }
      if (secs <= 0) store.del(key, now); // an expire in the past deletes, as in Redis
      else store.expires.set(key, now + secs * 1000);
      r.int(1);
      break;
    }
    case 'ttl':
    case 'pttl': {
      const key = c.str(1);
      if (store.get(key, now) === undefined) r.int(-2);
      else {
        const t = store.expires.get(key);
        if (t === undefined) r.int(-1);
        else r.int(name === 'ttl' ? Math.floor((t - now + 500) / 1000) : t - now);
      }
      break;
    }
    case 'command':
      if (argc === 1) {
        r.array(TABLE.length);
        for (const t of TABLE) commandInfo(r, t);
      } else if (c.is(1, 'count')) r.int(TABLE.length);
      else if (c.is(1, 'info')) {
        r.array(argc - 2);
        for (let i = 2; i < argc; i++) {
          const t = TABLE.find((x) => c.is(i, x[0]));
          if (t) commandInfo(r, t);
          else r.raw('*-1\r\n');
        }
      } else if (c.is(1, 'docs')) r.array(0);
      else r.error(`ERR unknown subcommand '${c.str(1)}'. Try COMMAND HELP.`);
      break;
    case 'config':
      // redis-benchmark asks CONFIG GET save / appendonly; the store keeps nothing on disk.
      if (c.is(1, 'get') && argc === 3) {
        const p = c.str(2).toLowerCase();
        const known: Record<string, string> = { save: '', appendonly: 'no' };
        if (p in known) {
          r.array(2);
          r.bulk(p);
          r.bulk(known[p]);
        } else r.array(0);
      } else r.error(`ERR unknown subcommand '${c.str(1)}'. Try CONFIG HELP.`);
      break;
    case 'select': {
      const db = intArg(c, 1);
      if (Number.isNaN(db)) r.error(WRONG_INT);
      else if (db !== 0) r.error('ERR DB index is out of range');
      else r.raw('+OK\r\n');
      break;
    }
    case 'dbsize':
      r.int(store.values.size);
      break;
    case 'flushdb':
    case 'flushall':
      store.clear();
      r.raw('+OK\r\n');
      break;
    case 'quit':
      r.raw('+OK\r\n');
      return After.Close;
  }
  return After.None;
}

// SET key value [NX | XX] [GET] [EX s | PX ms | KEEPTTL]
function set(c: RespCommand, store: Store, r: Reply, now: number): void {
  let nx = false;
  let xx = false;
  let get = false;
  let keep = false;
  let expireAt = 0;
  let hasExp = false;
  for (let i = 3; i < c.argc; i++) {
    if (c.is(i, 'nx') && !xx) nx = true;
    else if (c.is(i, 'xx') && !nx) xx = true;
    else if (c.is(i, 'get')) get = true;
    else if (c.is(i, 'keepttl') && !hasExp) keep = true;
    else if ((c.is(i, 'ex') || c.is(i, 'px')) && !hasExp && !keep && i + 1 < c.argc) {
      const v = intArg(c, i + 1);
      if (Number.isNaN(v)) return r.error(WRONG_INT);
      if (v <= 0) return r.error("ERR invalid expire time in 'set' command");
      expireAt = now + (c.is(i, 'ex') ? v * 1000 : v);
      hasExp = true;
      i++;
    } else return r.error('ERR syntax error');
  }
  const key = c.str(1);
  const old = nx || xx || get ? store.get(key, now) : undefined;
  if ((nx && old !== undefined) || (xx && old === undefined)) {
    if (get && old !== undefined) r.bulk(old);
    else r.nil();
    return;
  }
  store.set(key, c.str(2), expireAt, keep);
  if (get) {
    if (old === undefined) r.nil();
    else r.bulk(old);
  } else r.raw('+OK\r\n');
}
