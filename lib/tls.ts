// TLS options (node:tls's names and meanings where they exist) and their native
// contexts. TLS runs inside the native loop over Node's own OpenSSL (the addon
// leaves libssl's symbols to the node binary): see native/core/transport/tls.h.
import { createHash, randomBytes } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { addon, NativeTlsContext } from './native';
import { makeError, RingnetError } from './errors';

/** PEM text: a string, a Buffer, or several of them. */
export type Pem = string | Uint8Array | readonly (string | Uint8Array)[];

/**
 * A PKCS#12 bundle (`.pfx` / `.p12`, DER): a Buffer, or node:tls's array form with
 * one entry (`[buf]` or `[{ buf, passphrase }]`). One bundle per context.
 */
export type Pfx = Uint8Array | readonly (Uint8Array | { buf: Uint8Array; passphrase?: string })[];

/**
 * TLS options of a `tls://` listener ({@link ServeOptions.tls}), named as
 * `tls.createServer` / `tls.createSecureContext` name them.
 */
export interface TlsOptions {
  /** Certificate chain in PEM (leaf first). Required for a server. */
  cert?: Pem;
  /** Private key in PEM (may be encrypted: see `passphrase`). Required for a server. */
  key?: Pem;
  /** Passphrase of an encrypted `key` (and of `pfx`). */
  passphrase?: string;
  /**
   * Certificate, key and chain in one PKCS#12 bundle (node:tls's `pfx`), opened
   * with `passphrase`; instead of `cert`/`key` (given as well, they win). A wrong
   * passphrase rejects with `ERR_OSSL_MAC_VERIFY_FAILURE`.
   */
  pfx?: Pfx;
  /** CA certificates (PEM) that verify client certificates (`requestCert`). */
  ca?: Pem;
  /**
   * Certificate revocation lists (PEM). Client certificates are then checked
   * against them, each certificate of the chain against its issuer's CRL (as
   * node:tls's `crl`): a revoked one is refused with `CERT_REVOKED`, one whose
   * issuer has no CRL here with `UNABLE_TO_GET_CRL`.
   */
  crl?: Pem;
  /** Ask clients for a certificate (mTLS). Default false. */
  requestCert?: boolean;
  /**
   * With `requestCert`: refuse a client whose certificate is missing or does not
   * verify against `ca` (the handshake fails). Default true. False: the connection
   * opens and `conn.authorized` / `conn.authorizationError` say how it went.
   */
  rejectUnauthorized?: boolean;
  /** ALPN protocols in preference order, e.g. `['h2', 'http/1.1']`. A client with none in common is refused (as Node ≥ 17 does). */
  ALPNProtocols?: readonly string[] | Uint8Array;
  /** OpenSSL cipher list; `TLS_…` names set the TLS 1.3 suites. Default: OpenSSL's. */
  ciphers?: string;
  /** Lowest protocol version: `'TLSv1.2'` (default) or `'TLSv1.3'` (`'TLSv1'`, `'TLSv1.1'` where OpenSSL allows). */
  minVersion?: TlsVersion;
  /** Highest protocol version (default `'TLSv1.3'`). */
  maxVersion?: TlsVersion;
  /** Session lifetime in seconds, for resumption by session id or ticket (default 300). Both resume on every loop of the engine. */
  sessionTimeout?: number;
  /** Issue TLS session tickets (default true). False: resumption by session id only. */
  tickets?: boolean;
  /**
   * Milliseconds a client has to finish the handshake (node:tls's `handshakeTimeout`,
   * default 120000; 0: none). On the loop's timer wheel; a shorter `idleTimeout`
   * bounds it too. A handshake that runs out reaches `onTlsError` with
   * `ERR_TLS_HANDSHAKE_TIMEOUT`. Server side only: `dial`'s `timeout` covers a client's.
   */
  handshakeTimeout?: number;
  /**
   * 48 bytes (node:tls's `ticketKeys` form) that encrypt session tickets. Default:
   * random, made once per engine, so a ticket resumes on every loop of the engine
   * (`loops > 1`) and across {@link Engine.setSecureContext}. Give the same keys to
   * several processes or machines to resume across them.
   */
  ticketKeys?: Uint8Array;
  /**
   * Server names to contexts (SNI): `{ 'api.example.com': { cert, key }, '*.example.org': {...} }`.
   * A ClientHello naming none of them (or no name) gets the top-level certificate.
   * The choice is made natively, during the handshake, with no JS hop.
   */
  SNIContexts?: Readonly<Record<string, TlsOptions>>;
  /**
   * Asked for the certificate of a server name during the handshake (node:tls's
   * form, answered with options instead of a SecureContext): `cb(null, { cert, key })`
   * (merged over the top-level options; the same object again reuses its context),
   * `cb(null)` for the top-level certificate, `cb(err)` to refuse the handshake
   * (`onTlsError` gets `err.code`). The connection's handshake waits natively for
   * the answer, which may come later (a lookup). ClientHellos without a name do
   * not call it. With `loops > 1` it runs on the thread that called `serve()`:
   * the loop that got the ClientHello asks that thread and gets the answer back,
   * other connections going on meanwhile. Contexts built from answers are kept per
   * answer object (per loop) until {@link Engine.setSecureContext} replaces the
   * options they were merged over. {@link SNIContexts}, when also given, is not used.
   */
  SNICallback?: (servername: string, cb: (err: Error | null, ctx?: TlsOptions) => void) => void;
}

/** A protocol version name as node:tls spells it. */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

const VERSIONS: Record<string, number> = { TLSv1: 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304 };

/** A peer certificate as `tls.TLSSocket#getPeerCertificate()` shows it (the common fields). */
export interface PeerCertificate {
  subject: Record<string, string | string[]>;
  issuer: Record<string, string | string[]>;
  subjectaltname?: string;
  valid_from: string;
  valid_to: string;
  fingerprint256: string;
  serialNumber: string;
}

/** A TLS connection's negotiated state, as the addon reports it (not a stable API; read it through Conn's TLS getters). */
export interface TlsInfo {
  protocol: string;
  alpn: string;
  servername: string;
  cipher: string;
  reused: boolean;
  authorized: boolean;
  authorizationError?: string;
  peer: PeerCertificate | null;
}

/**
 * TLS options of a `tls://` dial ({@link Engine.dial}, and `createClient`'s `tls`
 * option for defaults), as `tls.connect` names them. The server's certificate is
 * verified against `ca` (default: Node's bundled roots, `tls.rootCertificates`)
 * and its identity against `servername` (default: the host of the address).
 */
export interface TlsConnectOptions {
  /**
   * The server name sent in the ClientHello (SNI) and checked against the
   * certificate's names. Default: the dialed host name (an IP address: no SNI,
   * the certificate must name that IP). `''`: no SNI, the host is checked.
   */
  servername?: string;
  /** CA certificates (PEM) that verify the server, instead of `tls.rootCertificates`. */
  ca?: Pem;
  /** Client certificate chain (PEM) for servers that ask for one (mTLS); with `key`. */
  cert?: Pem;
  /** The client certificate's private key (PEM). */
  key?: Pem;
  /** Passphrase of an encrypted `key` (and of `pfx`). */
  passphrase?: string;
  /** Client certificate, key and chain as one PKCS#12 bundle (instead of `cert`/`key`). */
  pfx?: Pfx;
  /**
   * Certificate revocation lists (PEM): the server's chain is checked against them
   * (`CERT_REVOKED`; `UNABLE_TO_GET_CRL` for an issuer without one here).
   */
  crl?: Pem;
  /**
   * Refuse a server whose certificate does not verify or does not match the name:
   * the dial rejects with Node's code (`DEPTH_ZERO_SELF_SIGNED_CERT`,
   * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_HAS_EXPIRED`,
   * `ERR_TLS_CERT_ALTNAME_INVALID` …). Default true. False: the connection opens
   * and `conn.authorized` / `conn.authorizationError` say how it went.
   */
  rejectUnauthorized?: boolean;
  /** ALPN protocols offered, in preference order (`['h2', 'http/1.1']`); `conn.alpnProtocol` says which the server chose. */
  ALPNProtocols?: readonly string[] | Uint8Array;
  /** OpenSSL cipher list; `TLS_…` names set the TLS 1.3 suites. */
  ciphers?: string;
  /** Lowest protocol version (default `'TLSv1.2'`). */
  minVersion?: TlsVersion;
  /** Highest protocol version (default `'TLSv1.3'`). */
  maxVersion?: TlsVersion;
  /** A session to resume (`conn.tlsSession` of an earlier connection to the same server); `conn.tlsSessionReused` says whether it was. */
  session?: Uint8Array;
}

/** The keys of {@link TlsConnectOptions}. @internal */
export const TLS_CONNECT_KEYS = [
  'servername', 'ca', 'cert', 'key', 'passphrase', 'pfx', 'crl', 'rejectUnauthorized', 'ALPNProtocols', 'ciphers', 'minVersion', 'maxVersion', 'session',
] as const;

function bad(name: string, want: string): RingnetError {
  return makeError('ERR_RINGNET_INVALID_OPTION', `ringnet: TLS option '${name}' must be ${want}`);
}

function pem(name: string, v: Pem | undefined): string | undefined {
  if (v === undefined) return undefined;
  const one = (x: unknown): string => {
    if (typeof x === 'string') return x;
    if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('latin1');
    throw bad(name, 'PEM text: a string, a Buffer, or an array of them');
  };
  return Array.isArray(v) ? v.map(one).join('\n') : one(v);
}

// node:tls's pfx forms down to one DER bundle and its passphrase (an entry's own
// passphrase wins over the top-level one).
function pfxOf(v: Pfx | undefined, passphrase: string | undefined): { pfx?: Buffer; passphrase?: string } {
  if (v === undefined) return { passphrase };
  const want = 'a Buffer (PKCS#12, DER), or [buf] / [{ buf, passphrase }] with one entry';
  let one: unknown = v;
  if (Array.isArray(v)) {
    if (v.length !== 1) throw bad('pfx', `${want}: ringnet takes one bundle per context`);
    one = v[0];
  }
  let pass = passphrase;
  if (one !== null && typeof one === 'object' && !(one instanceof Uint8Array)) {
    const e = one as { buf?: unknown; passphrase?: unknown };
    if (e.passphrase !== undefined && typeof e.passphrase !== 'string') throw bad('pfx', want);
    if (typeof e.passphrase === 'string') pass = e.passphrase;
    one = e.buf;
  }
  if (!(one instanceof Uint8Array) || one.length === 0) throw bad('pfx', want);
  return { pfx: Buffer.from(one.buffer, one.byteOffset, one.byteLength), passphrase: pass };
}

function alpnList(v: TlsOptions['ALPNProtocols']): string[] {
  if (v === undefined) return [];
  if (v instanceof Uint8Array) {
    // Node also takes the wire form: length-prefixed names.
    const out: string[] = [];
    for (let i = 0; i < v.length; ) {
      const n = v[i];
      if (n === 0 || i + 1 + n > v.length) throw bad('ALPNProtocols', 'length-prefixed protocol names');
      out.push(Buffer.from(v.subarray(i + 1, i + 1 + n)).toString('latin1'));
      i += 1 + n;
    }
    return out;
  }
  if (!Array.isArray(v) || v.some((p) => typeof p !== 'string' || p.length === 0 || p.length > 255)) {
    throw bad('ALPNProtocols', 'an array of protocol names (1..255 bytes each)');
  }
  return [...v];
}

function version(name: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  const n = typeof v === 'string' ? VERSIONS[v] : undefined;
  if (n === undefined) throw bad(name, "'TLSv1', 'TLSv1.1', 'TLSv1.2' or 'TLSv1.3'");
  return n;
}

function check(o: TlsOptions): void {
  if (o === null || typeof o !== 'object') throw bad('tls', 'an object');
  for (const k of ['requestCert', 'rejectUnauthorized', 'tickets'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw bad(k, 'a boolean');
  }
  if (o.passphrase !== undefined && typeof o.passphrase !== 'string') throw bad('passphrase', 'a string');
  if (o.ciphers !== undefined && typeof o.ciphers !== 'string') throw bad('ciphers', 'a string');
  if (o.SNICallback !== undefined && typeof o.SNICallback !== 'function') throw bad('SNICallback', 'a function (servername, cb)');
  if (o.sessionTimeout !== undefined && (!Number.isInteger(o.sessionTimeout) || o.sessionTimeout < 1)) {
    throw bad('sessionTimeout', 'a positive integer (seconds)');
  }
  if (o.handshakeTimeout !== undefined && (!Number.isInteger(o.handshakeTimeout) || o.handshakeTimeout < 0 || o.handshakeTimeout > 0xffffffff)) {
    throw bad('handshakeTimeout', 'a non-negative integer (ms; 0: none)');
  }
}

/** Throws `ERR_RINGNET_TLS_UNAVAILABLE` where this process has no OpenSSL 3 for the addon. @internal */
export function assertTlsAvailable(): void {
  const why = addon.tlsUnavailable();
  if (why !== null) throw makeError('ERR_RINGNET_TLS_UNAVAILABLE', `ringnet: TLS is unavailable: ${why}`);
}

/**
 * Session ticket keys for OpenSSL (80 bytes: name 16, HMAC 32, AES 32): from the
 * 48 bytes of node:tls's form (name 16, then 32 bytes of secret, stretched with
 * SHA-256), or random. @internal
 */
export function ticketKeys(given: Uint8Array | undefined): Buffer {
  if (given === undefined) return randomBytes(80);
  if (!(given instanceof Uint8Array) || given.length !== 48) throw bad('ticketKeys', 'a Buffer of 48 bytes');
  const secret = given.subarray(16);
  const part = (label: string): Buffer => createHash('sha256').update(label).update(secret).digest();
  return Buffer.concat([given.subarray(0, 16), part('ringnet ticket hmac'), part('ringnet ticket aes')]);
}

/**
 * Build the native server context of `o` (and its SNI contexts); keys: ticketKeys()'s.
 * sniAsync: the handshake pauses for an SNICallback answer (a loop thread's options
 * carry no function: the callback lives on the main thread). @internal
 */
export function createServerContext(o: TlsOptions, keys?: Uint8Array, sniAsync = typeof o.SNICallback === 'function'): NativeTlsContext {
  assertTlsAvailable();
  check(o);
  if ((o.cert === undefined || o.key === undefined) && o.pfx === undefined) throw bad('cert/key', 'given for a TLS server (or pfx)');
  const bundle = pfxOf(o.pfx, o.passphrase);
  const split = (o.ciphers ?? '').split(':').filter((c) => c !== '');
  const suites = split.filter((c) => c.startsWith('TLS_'));
  const classic = split.filter((c) => !c.startsWith('TLS_'));
  const sni: [string, NativeTlsContext][] = [];
  if (o.SNIContexts !== undefined) {
    if (o.SNIContexts === null || typeof o.SNIContexts !== 'object') throw bad('SNIContexts', 'an object of name -> options');
    for (const [name, sub] of Object.entries(o.SNIContexts)) {
      if (name === '') throw bad('SNIContexts', 'keyed by server names');
      sni.push([name, createServerContext({ ...o, SNIContexts: undefined, SNICallback: undefined, ...sub }, keys)]);
    }
  }
  return addon.tlsContext({
    server: true,
    cert: pem('cert', o.cert),
    key: pem('key', o.key),
    ca: pem('ca', o.ca),
    crl: pem('crl', o.crl),
    passphrase: bundle.passphrase,
    pfx: bundle.pfx,
    alpn: alpnList(o.ALPNProtocols),
    ciphers: classic.join(':'),
    ciphersuites: suites.join(':'),
    minVersion: version('minVersion', o.minVersion, 0x0303),
    maxVersion: version('maxVersion', o.maxVersion, 0x0304),
    requestCert: o.requestCert ?? false,
    rejectUnauthorized: o.rejectUnauthorized ?? true,
    tickets: o.tickets ?? true,
    sessionTimeout: o.sessionTimeout ?? 300,
    handshakeTimeout: o.handshakeTimeout ?? 120_000,
    ticketKeys: keys ?? (o.ticketKeys !== undefined ? ticketKeys(o.ticketKeys) : undefined),
    sniAsync,
    sni: sniAsync ? [] : sni,
  });
}

// Client contexts, by their options (a dial per request must not parse the root
// store each time): the most recently used ones, per thread.
const clientContexts = new Map<string, NativeTlsContext>();
const CLIENT_CONTEXTS_KEPT = 32;
let roots: string | undefined;

/** A native client context for `o` (cached). Throws with the OpenSSL code on bad PEM. @internal */
export function clientContext(o: TlsConnectOptions): NativeTlsContext {
  assertTlsAvailable();
  if (o === null || typeof o !== 'object') throw bad('tls', 'an object');
  if (o.rejectUnauthorized !== undefined && typeof o.rejectUnauthorized !== 'boolean') throw bad('rejectUnauthorized', 'a boolean');
  if (o.passphrase !== undefined && typeof o.passphrase !== 'string') throw bad('passphrase', 'a string');
  if (o.ciphers !== undefined && typeof o.ciphers !== 'string') throw bad('ciphers', 'a string');
  if (o.servername !== undefined && typeof o.servername !== 'string') throw bad('servername', 'a string');
  if (o.session !== undefined && !(o.session instanceof Uint8Array)) throw bad('session', 'a Buffer (conn.tlsSession)');
  if ((o.cert === undefined) !== (o.key === undefined)) throw bad('cert/key', 'given together (mTLS)');
  const split = (o.ciphers ?? '').split(':').filter((c) => c !== '');
  const given = pem('ca', o.ca);
  const bundle = pfxOf(o.pfx, o.passphrase);
  const opts = {
    server: false,
    cert: pem('cert', o.cert),
    key: pem('key', o.key),
    ca: given ?? (roots ??= rootCertificates.join('\n')),
    crl: pem('crl', o.crl),
    passphrase: bundle.passphrase,
    pfx: bundle.pfx,
    alpn: alpnList(o.ALPNProtocols),
    ciphers: split.filter((c) => !c.startsWith('TLS_')).join(':'),
    ciphersuites: split.filter((c) => c.startsWith('TLS_')).join(':'),
    minVersion: version('minVersion', o.minVersion, 0x0303),
    maxVersion: version('maxVersion', o.maxVersion, 0x0304),
    rejectUnauthorized: o.rejectUnauthorized ?? true,
  };
  const key = JSON.stringify([given === undefined, opts.cert, opts.key, given, opts.crl, opts.pfx?.toString('latin1'), opts.passphrase, opts.alpn, opts.ciphers, opts.ciphersuites, opts.minVersion, opts.maxVersion, opts.rejectUnauthorized]);
  let ctx = clientContexts.get(key);
  if (ctx !== undefined) {
    clientContexts.delete(key); // most recent last
  } else {
    ctx = addon.tlsContext(opts);
    if (clientContexts.size >= CLIENT_CONTEXTS_KEPT) clientContexts.delete(clientContexts.keys().next().value as string);
  }
  clientContexts.set(key, ctx);
  return ctx;
}

/** What answerSni needs from a loop. @internal */
export interface SniLoop {
  native: {
    tlsSniName(slot: number, gen: number): string | null;
    tlsSniAnswer(slot: number, gen: number, ctx: NativeTlsContext | null, code?: string, message?: string): number;
  };
  dispatchPending(): void;
}

/** An SNICallback failure (its error, a throw, a context that cannot be built) as the handshake's refusal. @internal */
export function sniFailure(e: unknown): { code: string; message: string } {
  const err = e as { code?: unknown; message?: unknown } | null | undefined;
  return { code: typeof err?.code === 'string' ? err.code : 'ERR_RINGNET_SNI_CALLBACK', message: `SNICallback: ${String(err?.message ?? e)}` };
}

/** The context of an SNICallback answer: its options merged over the top-level ones. @internal */
export function sniContext(top: TlsOptions, answer: TlsOptions, keys: Uint8Array | undefined): NativeTlsContext {
  return createServerContext({ ...top, SNIContexts: undefined, SNICallback: undefined, ...answer }, keys, false);
}

/**
 * EV_TLS_SNI (`loops: 1`): ask the options' SNICallback for the server name the
 * paused handshake names, and give native the answer (now or later). `cache`: the
 * contexts built from answers, by answer object, for the options `o` (a reload
 * gives a new one). @internal
 */
export function answerSni(core: SniLoop, slot: number, gen: number, o: TlsOptions | undefined, keys: Uint8Array | undefined, cache: WeakMap<object, NativeTlsContext>): void {
  const name = core.native.tlsSniName(slot, gen);
  if (name === null) return;
  let done = false;
  const fail = (e: unknown): void => {
    const f = sniFailure(e);
    core.native.tlsSniAnswer(slot, gen, null, f.code, f.message);
  };
  const answer = (err: Error | null, ctxOpts?: TlsOptions): void => {
    if (done) return;
    done = true;
    if (err) {
      fail(err);
    } else {
      let ctx: NativeTlsContext | null = null;
      try {
        if (ctxOpts !== undefined && ctxOpts !== null && o !== undefined) {
          ctx = cache.get(ctxOpts) ?? null;
          if (ctx === null) {
            ctx = sniContext(o, ctxOpts, keys);
            cache.set(ctxOpts, ctx);
          }
        }
        core.native.tlsSniAnswer(slot, gen, ctx);
      } catch (e) {
        fail(e);
      }
    }
    core.dispatchPending(); // a refusal closed it: its EV_TLS_ERROR
  };
  const cb = o?.SNICallback;
  if (typeof cb !== 'function') return answer(null);
  try {
    cb(name, answer);
  } catch (e) {
    answer(e as Error);
  }
}
