// The store "behind the pool" for `--loops K > 1`: one pool worker owns the
// keyspace; every loop sends it the complete commands a connection sent in a
// batch (the raw RESP bytes), and this task executes them in order and writes
// the replies straight to the connection from the pool worker's thread
// (asyncWrite through the loop's task queue). A pool of one worker runs tasks
// one at a time in submission order, so a connection's replies stay in order.
import { asyncClose, asyncWrite } from 'ringnet';
import type { ConnHandle } from 'ringnet';
import { After, execute } from './commands';
import { NEED_MORE, parseCommand, RespCommand } from './parser';
import { Reply, Store } from './store';

/** One task: a connection's complete commands, and what follows them. */
export interface StoreTask {
  handle: ConnHandle;
  bytes: Uint8Array;
  /** a protocol error after the commands: send it, then close */
  error?: string;
}

const store = new Store();
const cmd = new RespCommand();
const reply = new Reply();
setInterval(() => store.sweep(Date.now()), 100).unref();

export default function run(task: StoreTask): number {
  const b = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const now = Date.now();
  let off = 0;
  let close = false;
  let n = 0;
  reply.n = 0;
  while (off < b.length) {
    const r = parseCommand(b, off, b.length, cmd);
    if (r === NEED_MORE || r < 0) break; // the loop sent complete commands only
    off = r;
    if (cmd.argc === 0) continue;
    n++;
    if (execute(cmd, store, reply, now) === After.Close) {
      close = true;
      break;
    }
  }
  if (task.error) {
    reply.error(`ERR ${task.error}`);
    close = true;
  }
  try {
    if (reply.n > 0) asyncWrite(task.handle, Buffer.from(reply.buf.subarray(0, reply.n)));
    if (close) asyncClose(task.handle);
  } catch {
    // the connection closed meanwhile: its replies have nowhere to go
  }
  return n;
}
