// A UDP echo beside a TCP stats port on one loop (README, "UDP"):
//   node dist/examples/udp-echo.js [udpPort] [tcpPort]
//   socat - UDP:127.0.0.1:5353      (type a line: it comes back)
//   nc 127.0.0.1 9001               (any line: the datagram counters)
import { serve, Datagram, Conn, Engine } from 'ringnet';

async function main(): Promise<void> {
  const udpPort = Number(process.argv[2] ?? 5353);
  const tcpPort = Number(process.argv[3] ?? 9001);
  let engine!: Engine;
  engine = await serve({
    onDatagram(d: Datagram) {
      if (d.truncated) return; // longer than maxDatagramSize: drop it rather than echo a cut one
      d.write(d.next()); // a view of the receive buffer: no copy; one sendmmsg per batch
    },
    onTraffic(c: Conn) {
      c.next();
      c.write(`${JSON.stringify(engine.udpSockets[0].stats())}\n`);
    },
  }, [`udp://127.0.0.1:${udpPort}`, `tcp://127.0.0.1:${tcpPort}`], {
    udp: { maxDatagramSize: 1500, recvBufferSize: 4 << 20 },
  });
  console.log(`listening on ${engine.addrs.join(' and ')}`);
  engine.udpSockets[0].setMulticastTTL(2);
  process.on('SIGINT', () => void engine.stop().then(() => process.exit(0)));
}

void main();
