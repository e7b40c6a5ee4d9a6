// The loop side of `--loops K > 1` (see store-task.ts): each loop cuts its
// connections' bytes at command boundaries (parsing only to find them) and
// submits the complete commands of a batch to the store's pool worker, which
// answers the connection itself. Loaded by every loop thread; `engine.data.pool`
// is the pool's handle.
import { WorkerPool } from 'ringnet';
import type { AttachedPool, Conn, Engine, EventHandler, PoolHandle } from 'ringnet';
import { NEED_MORE, parseCommand, RespCommand } from './parser';
import type { StoreTask } from './store-task';

let pool: AttachedPool | undefined;
const cmd = new RespCommand();

const handler: EventHandler = {
  onBoot(engine: Engine): void {
    pool = WorkerPool.attach((engine.data as { pool: PoolHandle }).pool);
  },
  onTraffic(conn: Conn): void {
    if (conn.context === 'done') return;
    const b = conn.peek();
    let off = 0;
    let error: string | undefined;
    while (off < b.length) {
      const r = parseCommand(b, off, b.length, cmd);
      if (r === NEED_MORE) break;
      if (r < 0) {
        error = cmd.error;
        break;
      }
      off = r;
    }
    if (off === 0 && !error) return;
    // A copy: the pool may queue the task past this callback, and the view is
    // valid only during it.
    const task: StoreTask = { handle: conn.handle, bytes: Buffer.from(b.subarray(0, off)), error };
    pool!.submit(task).catch(() => conn.isOpen && conn.close());
    if (error) {
      conn.context = 'done';
      conn.discard(b.length);
    } else conn.discard(off);
  },
};

export default handler;
