// UDP options (the `udp` option of serve) and addresses (targets of sendTo, the
// sender of a datagram): plain data, no native calls.
import type { SocketAddress } from './conn';
import { describeValue, makeError, RingnetError, unknownKey } from './errors';
import { STAT_NAMES } from './udp-layout';

/** Counters of one UDP socket. */
export type UdpStats = Record<(typeof STAT_NAMES)[number], number> & {
  /** Sends refused in JS because the queue was full while the socket's send buffer was (see {@link UdpSocket.send}). */
  dropped: number;
};

/** The `udp` option of {@link serve}: how `udp://` listeners are opened. node:dgram's names where it has one. */
export interface UdpOptions {
  /**
   * Bytes of the longest datagram received whole (default 65535: none is cut).
   * A longer one is delivered cut to this size with {@link Datagram.truncated}
   * set (and counted in `stats().truncated`), never silently.
   */
  maxDatagramSize?: number;
  /** Datagrams per receive syscall (`recvmmsg`) and per handler batch (default 32). */
  recvBatch?: number;
  /** Sends that can be queued between two flushes (default 1024). */
  sendQueue?: number;
  /** Bytes of the send staging area that queued datagrams are copied to (default 256 KiB). */
  sendStaging?: number;
  /** SO_RCVBUF in bytes (default: the kernel's). A burst larger than it is dropped by the kernel. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (default: the kernel's). */
  sendBufferSize?: number;
  /** SO_REUSEADDR (default false), e.g. several processes on one multicast port. */
  reuseAddr?: boolean;
  /** An IPv6 socket takes only IPv6 (default false: also IPv4 as ::ffff:a.b.c.d). */
  ipv6Only?: boolean;
  /** SO_BROADCAST (default false). */
  broadcast?: boolean;
  /** IP_TTL / IPV6_UNICAST_HOPS. */
  ttl?: number;
  /** IP_MULTICAST_TTL (default 1). */
  multicastTTL?: number;
  /** IP_MULTICAST_LOOP (default true). */
  multicastLoopback?: boolean;
  /** IP_MULTICAST_IF: an address of the interface (IPv6: `'::%eth0'` or a scope). */
  multicastInterface?: string;
  /** Multicast groups to join at once: `[{ group: '239.1.2.3', iface: '127.0.0.1' }]`. */
  membership?: readonly { group: string; iface?: string }[];
}

const UDP_KNOWN: readonly (keyof UdpOptions)[] = [
  'maxDatagramSize', 'recvBatch', 'sendQueue', 'sendStaging', 'recvBufferSize', 'sendBufferSize', 'reuseAddr', 'ipv6Only',
  'broadcast', 'ttl', 'multicastTTL', 'multicastLoopback', 'multicastInterface', 'membership',
];

export function badOpt(name: string, v: unknown, want: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: option 'udp.${name}' must be ${want}, got ${describeValue(v)}`);
}

/** Validate the `udp` option (throws ERR_RINGNET_INVALID_OPTION). @internal */
export function resolveUdpOptions(o: unknown): UdpOptions {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object') throw badOpt('', o, 'an object');
  const extra = unknownKey(o, UDP_KNOWN);
  if (extra !== undefined) throw makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: unknown option 'udp.${extra}' (known: ${UDP_KNOWN.join(', ')})`);
  const u = o as UdpOptions;
  const int = (k: keyof UdpOptions, min: number, max: number): void => {
    const v = u[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) throw badOpt(k, v, `an integer in ${min}..${max}`);
  };
  const bool = (k: keyof UdpOptions): void => {
    if (u[k] !== undefined && typeof u[k] !== 'boolean') throw badOpt(k, u[k], 'a boolean');
  };
  int('maxDatagramSize', 1, 65535);
  int('recvBatch', 1, 1024);
  int('sendQueue', 1, 1 << 20);
  int('sendStaging', 65536, 1 << 30);
  int('recvBufferSize', 1, 2 ** 31 - 1);
  int('sendBufferSize', 1, 2 ** 31 - 1);
  int('ttl', 1, 255);
  int('multicastTTL', 0, 255);
  bool('reuseAddr');
  bool('ipv6Only');
  bool('broadcast');
  bool('multicastLoopback');
  if (u.multicastInterface !== undefined && typeof u.multicastInterface !== 'string') throw badOpt('multicastInterface', u.multicastInterface, 'a string');
  if (u.membership !== undefined) {
    if (!Array.isArray(u.membership)) throw badOpt('membership', u.membership, 'an array of { group, iface? }');
    for (const m of u.membership) {
      if (m === null || typeof m !== 'object' || typeof m.group !== 'string' || (m.iface !== undefined && typeof m.iface !== 'string')) {
        throw badOpt('membership', m, '{ group: string, iface?: string }');
      }
    }
  }
  return u;
}

export function formatIp(b: Uint8Array, at: number, family: number): string {
  if (family === 4) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  // RFC 5952: lower-case hex, the longest run of two or more zero groups as '::'.
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Where a datagram goes: `'udp://host:port'`, `'host:port'`, `'[v6]:port'`, or `{ address, port }`. */
export type UdpTarget = string | { address: string; port: number };

export function invalidAddr(what: unknown, why: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_ADDR', `ringnet: invalid UDP address ${typeof what === 'string' ? `'${what}'` : describeValue(what)}: ${why}`);
}

export function splitTarget(t: UdpTarget): { host: string; port: number } {
  if (t !== null && typeof t === 'object') {
    if (typeof t.address !== 'string' || !Number.isInteger(t.port) || t.port < 0 || t.port > 65535) throw invalidAddr(t, 'expected { address: string, port: 0..65535 }');
    return { host: t.address, port: t.port };
  }
  if (typeof t !== 'string') throw invalidAddr(t, "expected 'udp://host:port' or { address, port }");
  const rest = t.replace(/^udp[46]?:\/\//i, '');
  let host: string;
  let portStr: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw invalidAddr(t, "expected '[ipv6]:port'");
    host = rest.slice(1, end);
    portStr = rest.slice(end + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw invalidAddr(t, 'missing :port');
    host = rest.slice(0, colon);
    portStr = rest.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535) throw invalidAddr(t, `port '${portStr}' is not 0..65535`);
  return { host, port: Number(portStr) };
}

/** `udp://host:port` as the engine lists it. @internal */
export function formatUdp(a: SocketAddress): string {
  return a.family === 'IPv6' ? `udp://[${a.address}]:${a.port}` : `udp://${a.address}:${a.port}`;
}
