// The echo handler (CLI `ringnet echo`, benchmarks), also as a module for engines
// with several loops (each loads it). It respects backpressure: when write()
// returns false it stops consuming, so unread bytes wait in the inbound buffer,
// reading pauses at inboundLimit and TCP slows the sender; onWritable resumes.
// Without this a client that sends without reading grew the server without bound
// (issue 8, item 5: 456 MiB RSS for a 400 MiB slow reader).
import type { Conn } from './conn';

const BLOCKED = Symbol('ringnet.echo.blocked');

function pump(c: Conn): void {
  if (c.inboundBuffered > 0 && !c.write(c.next())) c.context = BLOCKED;
}

/** The echo handler the CLI and the benchmarks run. */
export const echoHandler = {
  onTraffic(c: Conn): void {
    if (c.context !== BLOCKED) pump(c);
  },
  onWritable(c: Conn): void {
    c.context = undefined;
    pump(c);
  },
};

export default echoHandler;
