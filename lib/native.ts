// The addon, loaded the way prebuilt N-API packages are: node-gyp-build finds
// prebuilds/<platform>-<arch>/ first, then build/Release.
import * as path from 'node:path';
import { LAYOUT_VERSION } from './layout';

/** The native loop object (native/binding/binding.cc). Not a stable API: use {@link serve}. */
export interface NativeLoop {
  readonly id: number;
  readonly arenaId: number;
  readonly backend: string;
  /** Set when io_uring was asked for and the loop fell back to epoll: why. */
  readonly backendFallback?: string;
  readonly memory: { events: ArrayBuffer; conns: ArrayBuffer; ops: ArrayBuffer; staging: ArrayBuffer; stats: ArrayBuffer };
  listen(host: string, port: number, opts: ListenOpts, tls?: NativeTlsContext): NativeAddr & { id: number };
  /** Replace a TLS listener's context (-1: adopted connections'); 0 or -errno. */
  setTls(listenerId: number, ctx: NativeTlsContext | null): number;
  tlsInfo(slot: number, gen: number): import('./tls').TlsInfo | null;
  tlsError(arg: number): { code: string; message: string } | null;
  start(): void;
  flush(): void;
  refill(): number;
  unlisten(): void;
  closeAll(graceful: boolean): void;
  close(): void;
  count(): number;
  connAddr(slot: number, gen: number, peer: boolean): NativeAddr | null;
  connOpt(slot: number, gen: number, which: number, a: number, b?: number): void;
  reset(slot: number, gen: number): void;
  adopt(fd: number): number;
  /** Non-blocking connect to a numeric host; outcome later as EV_OPEN (arg = tag) or EV_DIAL_FAIL. Throws on an immediate failure. */
  dial(host: string, port: number, timeoutMs: number, tag: number, unix?: boolean, codec?: number, tls?: object): void;
  /** Register a framing codec (lib/codec.ts resolved it): its id (>= 1); sets framesId. Throws ERR_RINGNET_INVALID_OPTION. */
  addCodec(spec: import('./codec').ResolvedCodec): number;
  /** The codec of accepted and handed-over connections (0: none); 0 or -EINVAL. */
  setAcceptCodec(id: number): number;
  /** Buffer id of the frames buffer (layout.h FR_*), once a codec is registered. */
  readonly framesId?: number;
  /** A TLS client connection's session (DER) to resume with, or null. */
  tlsSession(slot: number, gen: number): Buffer | null;
  /** EV_TLS_SNI: the server name asked for, and the answer (a context, null: the listener's own; or a failure code). */
  tlsSniName(slot: number, gen: number): string | null;
  tlsSniAnswer(slot: number, gen: number, ctx: NativeTlsContext | null, code?: string, message?: string): number;
  /** Refuse further posts (the loop is failing): the main reactor passes it by. */
  closeTasks(): void;
}

/** Options of a native listen; unix: host is a socket path, mode its file mode (-1: umask's). */
export interface ListenOpts {
  reuseAddr: boolean;
  reusePort: boolean;
  backlog?: number;
  unix?: boolean;
  mode?: number;
}

/** A native TLS context (an External owning an SSL_CTX reference); part of the addon interface, not a stable API. */
export type NativeTlsContext = object & { readonly __tlsContext?: never };

/** An address as the addon reports it. */
export interface NativeAddr {
  family: 'IPv4' | 'IPv6' | 'unix';
  address: string;
  port: number;
}

/** Options the native loop is made with (resolved from ServeOptions). Not a stable API. */
export interface NativeLoopOptions {
  maxConnections: number;
  readBufferCap: number;
  inboundLimit: number;
  writeBufferCap: number;
  /** Hard outbound cap per connection; 0: none. */
  outboundLimit: number;
  stagingSize: number;
  batchEvents: number;
  tcpNoDelay: boolean;
  allowHalfOpen: boolean;
  tcpKeepAlive: number;
  socketSendBuffer: number;
  socketRecvBuffer: number;
  /** 'io_uring' asks the loop for io_uring; anything else is epoll. */
  backend: 'epoll' | 'io_uring';
  /** With backend 'io_uring': run on epoll if io_uring is refused (else loop creation throws). */
  backendFallback: boolean;
  /** Idle timeout of every new connection in ms (0 = none). */
  idleTimeout: number;
  /** The handler has onTimeout: native reports expiry (EV_TIMEOUT) instead of closing. Set by LoopCore. */
  timeoutEvents?: boolean;
  /** The engine's framing codec (lib/codec.ts): LoopCore registers it for accepted connections. */
  codec?: import('./codec').ResolvedCodec;
}

/** The raw addon, exported as `native` for diagnostics. Not a stable API. */
export interface Addon {
  Loop: new (opts: NativeLoopOptions, dispatch: () => void, buffers: (ArrayBuffer | undefined)[], refs: Uint8Array[]) => NativeLoop;
  post(loopId: number, kind: number, slot: number, gen: number, data?: Uint8Array, tag?: number): number;
  errname(errno: number): string;
  /** SO_PEERCRED / getpeereid of a connected Unix socket's fd; null if not one. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number } | null;
  tlsContext(opts: Record<string, unknown>): NativeTlsContext;
  /** null when TLS can run in this process, else why not. */
  tlsUnavailable(): string | null;
  backend: string;
  /** layout.h LAYOUT_VERSION the binary was built with. */
  layoutVersion?: number;
  Acceptor: new (balance: number) => NativeAcceptor;
  pinThread(index: number): number;
  allowedCpus(): number[];
  currentCpus(): number[];
  threadId(): number;
  loopCount(loopId: number): number;
  loopStats(loopId: number, out: Float64Array): number;
}

/** The main reactor (native/core/reactor/acceptor.h). Not a stable API. */
export interface NativeAcceptor {
  listen(host: string, port: number, opts: ListenOpts): NativeAddr;
  start(loopIds: number[]): void;
  /** Replace the loops connections are handed to (any time after start). */
  setLoops(loopIds: number[]): void;
  close(): void;
  accepted(): number;
}

function loadAddon(): Addon {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('node-gyp-build')(path.join(__dirname, '..'));
  } catch (cause) {
    const target = `${process.platform}-${process.arch}`;
    const e = new Error(
      `ringnet: cannot load the native addon for ${target} (Node ${process.version}): ${(cause as Error).message.trim()}\n` +
        'No prebuilt binary fits this machine and none was built from source. Install python3, make and a C++17 compiler ' +
        '(g++ or clang), then run `npm rebuild ringnet`.',
      { cause },
    ) as Error & { code: string };
    e.code = 'ERR_RINGNET_NO_BINARY';
    throw e;
  }
}

// A binary built from another version of layout.h would read and write the shared
// memory at the wrong offsets: refuse it with a clear error instead.
function checkLayout(a: Addon): Addon {
  if (a.layoutVersion !== LAYOUT_VERSION) {
    const e = new Error(
      `ringnet: the native addon was built for shared-memory layout ${a.layoutVersion ?? 'unknown'}, this JavaScript expects ` +
        `${LAYOUT_VERSION}: the binary and dist/ come from different builds. Rebuild it (\`npm rebuild ringnet\`).`,
    ) as Error & { code: string };
    e.code = 'ERR_RINGNET_LAYOUT_MISMATCH';
    throw e;
  }
  return a;
}

export const addon: Addon = checkLayout(loadAddon());
