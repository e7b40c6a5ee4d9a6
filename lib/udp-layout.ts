// UDP shared-memory layout (native/core/transport/udp.h udp_layout), for lib/udp.ts
// and lib/datagram.ts; checked against the addon when the first socket opens.
export const UDP_LAYOUT_VERSION = 1;
export const RX_COUNT = 0;
export const RX_HEADER = 4;
export const RX_STRIDE = 12;
export const TX_COUNT = 0;
export const TX_STAGED = 1;
export const TX_HEADER = 4;
export const TX_STRIDE = 12;
export const RD_OFF = 0;
export const RD_LEN = 1;
export const RD_FLAGS = 2;
export const A_FAMILY = 3;
export const A_PORT = 4;
export const A_IP = 6;
export const RXF_TRUNCATED = 1;
export const TX_SRC_STAGING = 0;
export const TX_SRC_RX = 1;
export const STAT_NAMES = [
  'datagramsIn', 'bytesIn', 'datagramsOut', 'bytesOut', 'truncated', 'recvCalls', 'sendCalls', 'sendErrors', 'sendBlocked', 'recvErrors',
] as const;
export const US_SEND_ERRORS = 7;
/** The largest payload a UDP datagram can carry (IPv6, without jumbograms). */
export const MAX_PAYLOAD = 65527;
