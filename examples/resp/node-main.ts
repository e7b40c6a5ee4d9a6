// The same RESP example on node:net (the benchmark's baseline): the same
// parser, commands and store; what differs is the socket layer. Leftover bytes
// of a partial command are kept between 'data' events; the replies of one
// 'data' event leave in one socket.write().
//   node dist/examples/resp/node-main.js --port N
import * as net from 'node:net';
import { After, execute } from './commands';
import { NEED_MORE, parseCommand, RespCommand } from './parser';
import { Reply, Store } from './store';
import { argInt } from '../args';

const store = new Store();
const cmd = new RespCommand();
const reply = new Reply();
setInterval(() => store.sweep(Date.now()), 100).unref();

const server = net.createServer({ noDelay: true }, (sock) => {
  let pending: Buffer | null = null;
  sock.on('data', (chunk: Buffer) => {
    const b: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    const end = b.length;
    const now = Date.now();
    let off = 0;
    let close = false;
    reply.n = 0;
    while (off < end) {
      const r = parseCommand(b, off, end, cmd);
      if (r === NEED_MORE) break;
      if (r < 0) {
        reply.error(`ERR ${cmd.error}`);
        close = true;
        break;
      }
      off = r;
      if (cmd.argc === 0) continue;
      if (execute(cmd, store, reply, now) === After.Close) {
        close = true;
        break;
      }
    }
    if (reply.n > 0) sock.write(Buffer.from(reply.buf.subarray(0, reply.n)));
    if (close) {
      sock.end();
      pending = null;
      return;
    }
    pending = off < end ? Buffer.from(b.subarray(off)) : null;
  });
  sock.on('error', () => sock.destroy());
});

server.listen(argInt('--port', 6381), '127.0.0.1', () => {
  console.log(`resp example (node:net) listening on 127.0.0.1:${(server.address() as net.AddressInfo).port}`);
});
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
