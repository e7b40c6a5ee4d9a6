// Unix domain sockets (issue 10), the JS half: the listen options a unix target
// takes, and removing a listener's socket file on stop — only if the file at the
// path is still the one this engine bound (same device and inode), so a file
// another process put there since is left alone. Binding, the stale-file rule,
// the mode and peer credentials are native (sys/sock_unix.cc).
import * as fs from 'node:fs';
import type { ListenOpts } from './native';
import type { SocketAddress } from './conn';

/** A socket file this engine created. @internal */
export interface UnixFile {
  path: string;
  dev: number;
  ino: number;
}

/** The native listen options for a target. @internal */
export function listenOpts(t: { unix?: boolean }, o: { reuseAddr: boolean; reusePort: boolean; backlog: number; unixMode: number }): ListenOpts {
  if (t.unix) return { reuseAddr: false, reusePort: false, backlog: o.backlog, unix: true, mode: o.unixMode };
  return { reuseAddr: o.reuseAddr, reusePort: o.reusePort, backlog: o.backlog };
}

/** Right after a unix path listener is bound: remember its file. @internal */
export function unixFileOf(a: SocketAddress): UnixFile | undefined {
  if (a.family !== 'unix' || a.address === '' || a.address.startsWith('@')) return undefined;
  try {
    const st = fs.lstatSync(a.address);
    return { path: a.address, dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** After the listener closed: remove its file if it is still ours. @internal */
export function removeUnixFiles(files: readonly UnixFile[]): void {
  for (const f of files) {
    try {
      const st = fs.lstatSync(f.path);
      if (st.isSocket() && st.dev === f.dev && st.ino === f.ino) fs.unlinkSync(f.path);
    } catch {
      // gone already, or not ours to remove
    }
  }
}
