import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { makeError } from './errors';

/** A parsed listen address. @internal */
export interface ListenAddr {
  network: 'tcp' | 'tcp4' | 'tcp6' | 'unix';
  host: string;
  port: number;
  /** tls:// (tls4://, tls6://): connections speak TLS (the `tls` option). */
  tls: boolean;
  /** udp:// (udp4://, udp6://): a UDP socket (lib/udp.ts); network is then tcp/tcp4/tcp6 for the family rule. */
  udp?: boolean;
}

function invalid(addr: string, why: string): Error {
  return makeError('ERR_RINGNET_INVALID_ADDR', `ringnet: invalid address '${addr}': ${why}`);
}

/**
 * Parse `tcp://host:port` (also `tcp4://`, `tcp6://`, `tls://`, `tls4://`, `tls6://`, `[::1]:port`, or no scheme).
 * Throws `ERR_RINGNET_INVALID_ADDR` for anything else. @internal
 */
export function parseAddr(addr: unknown): ListenAddr {
  if (typeof addr !== 'string') throw invalid(String(addr), 'expected a string like tcp://127.0.0.1:9000');
  let network: ListenAddr['network'] = 'tcp';
  let tls = false;
  let udp = false;
  let rest = addr;
  const m = /^([a-z0-9]+):\/\/(.*)$/i.exec(addr);
  if (m) {
    let scheme = m[1].toLowerCase();
    if (scheme === 'unix') {
      // unix:///abs/path, unix://./relative, unix://@abstract (Linux)
      const path = m[2];
      if (path === '' || path === '@') throw invalid(addr, 'expected unix:///path/to.sock or unix://@name');
      if (path.includes('\0')) throw invalid(addr, 'a unix socket path cannot hold a NUL');
      return { network: 'unix', host: path, port: 0, tls: false };
    }
    if (scheme === 'tls' || scheme === 'tls4' || scheme === 'tls6') {
      tls = true;
      scheme = 'tcp' + scheme.slice(3);
    }
    if (scheme === 'udp' || scheme === 'udp4' || scheme === 'udp6') {
      udp = true;
      scheme = 'tcp' + scheme.slice(3);
    }
    if (scheme !== 'tcp' && scheme !== 'tcp4' && scheme !== 'tcp6') {
      throw invalid(addr, `network '${m[1]}' is not supported (use tcp, tcp4, tcp6, tls, tls4, tls6, udp, udp4, udp6 or unix)`);
    }
    network = scheme;
    rest = m[2];
  }
  let host: string;
  let portStr: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw invalid(addr, "expected '[ipv6]:port'");
    host = rest.slice(1, end);
    portStr = rest.slice(end + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw invalid(addr, 'missing :port');
    host = rest.slice(0, colon);
    portStr = rest.slice(colon + 1);
    if (host.includes(':')) throw invalid(addr, 'IPv6 hosts must be in brackets, e.g. tcp://[::1]:9000');
  }
  if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535) throw invalid(addr, `port '${portStr}' is not 0..65535`);
  if (host.includes('/') || host.includes(' ')) throw invalid(addr, `bad host '${host}'`);
  return udp ? { network, host, port: Number(portStr), tls, udp } : { network, host, port: Number(portStr), tls };
}

/** Resolve the host to a numeric address of the right family. @internal */
export async function resolveAddr(a: ListenAddr, original: string): Promise<{ host: string; port: number; tls: boolean; unix?: boolean; udp?: boolean }> {
  if (a.network === 'unix') return { host: a.host, port: 0, tls: false, unix: true };
  let host = a.host;
  if (host === '' || host === '*') host = a.network === 'tcp6' ? '::' : '0.0.0.0';
  else if (host === 'localhost') host = a.network === 'tcp6' ? '::1' : '127.0.0.1';
  const fam = isIP(host);
  if (fam === 0) {
    try {
      const r = await lookup(host, { family: a.network === 'tcp6' ? 6 : a.network === 'tcp4' ? 4 : 0 });
      host = r.address;
    } catch (e) {
      const err = invalid(original, `cannot resolve host '${host}' (${(e as NodeJS.ErrnoException).code ?? e})`);
      throw err;
    }
  } else if ((a.network === 'tcp4' && fam !== 4) || (a.network === 'tcp6' && fam !== 6)) {
    throw invalid(original, `host '${host}' is not an IPv${a.network === 'tcp4' ? 4 : 6} address`);
  }
  return a.udp ? { host, port: a.port, tls: a.tls, udp: true } : { host, port: a.port, tls: a.tls };
}

/** Format as tcp://host:port (brackets for IPv6; tls:// for a TLS listener; unix://path). @internal */
export function formatAddr(host: string, port: number, tls = false, family?: string, udp = false): string {
  if (family === 'unix') return `unix://${host}`;
  const s = udp ? 'udp' : tls ? 'tls' : 'tcp';
  return isIP(host) === 6 ? `${s}://[${host}]:${port}` : `${s}://${host}:${port}`;
}
