// Bun.listen echo server, run by bench/echo.js only when `bun` is on PATH.
// usage: bun bench/bun-echo.js [--host 127.0.0.1] [--port 0]
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};

// socket.write() may take only part of the data; the rest waits for drain().
const server = Bun.listen({
  hostname: arg('--host', '127.0.0.1'),
  port: Number(arg('--port', '0')),
  socket: {
    open(socket) {
      socket.data = { pending: null };
      socket.setNoDelay?.(true);
    },
    data(socket, chunk) {
      const state = socket.data;
      if (state.pending) {
        state.pending = Buffer.concat([state.pending, chunk]);
        return;
      }
      const n = socket.write(chunk);
      if (n < chunk.length) state.pending = Buffer.from(chunk.subarray(Math.max(n, 0)));
    },
    drain(socket) {
      const state = socket.data;
      if (!state.pending) return;
      const n = socket.write(state.pending);
      state.pending = n < state.pending.length ? state.pending.subarray(Math.max(n, 0)) : null;
    },
    error() {},
  },
});
process.stdout.write(`listening on tcp://${server.hostname}:${server.port}\n`);
process.on('SIGTERM', () => process.exit(0));
