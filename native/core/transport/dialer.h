// The client side of a stream connection: start a non-blocking connect and read
// its outcome once the socket reports writable (or an error). The loop owns the
// connection slot, the timeout (its timer wheel) and the events; this file owns
// what the socket says.
#pragma once
#include "sys/sock.h"

namespace rn {

// Start connecting to a: the socket (its connect in progress, options applied),
// or -errno when it failed at once (ENETUNREACH, EADDRNOTAVAIL, EMFILE…).
int dialer_start(const addr& a, const conn_opts& o);
// The connect finished (the poller said writable, or error / hang-up): 0 when
// connected, else -errno (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH…).
int dialer_result(sock_t fd, bool error_reported);

}  // namespace rn
