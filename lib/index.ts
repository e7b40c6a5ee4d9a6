/**
 * ringnet: native event loops for Node.js with gnet's handler API.
 * @packageDocumentation
 */
export { serve } from './serve';
export type { HandlerModule } from './serve';
export { createClient } from './client';
export type { ClientOptions } from './client';
export type { DialOptions } from './dial';
export type { CodecOptions, LengthFieldCodec, DelimiterCodec, FixedCodec, LineCodec } from './codec';
export { Engine } from './engine';
export type { StopOptions, LoopInfo, LoopErrorInfo, EngineEvents } from './engine';
export { Action } from './handler';
export type { EventHandler, OpenResult, TickResult, TimeoutKind, MaybePromise } from './handler';
export { Conn } from './conn';
export type { ConnHandle, Data, SocketAddress } from './conn';
export type { ServeOptions } from './options';
export { Datagram, UdpSocket } from './udp';
export type { UdpOptions, UdpStats, UdpTarget } from './udp';
export type { TlsOptions, TlsVersion, PeerCertificate, Pem } from './tls';
export type { LoopStats } from './stats';
export type { RingnetError } from './errors';
export { asyncWrite, asyncClose, wake } from './remote';
export { addon as native } from './native';
export { WorkerPool, MultiPool, AttachedPool, AttachedMultiPool, MAX_POOL_SIZE } from './pool';
export type {
  AttachOptions, LoadBalancingStrategy, MultiPoolHandle, MultiPoolOptions, PanicTask, PoolError, PoolErrorCode,
  PoolHandle, SubmitOptions, TaskFunction, WorkerPoolOptions,
} from './pool';
