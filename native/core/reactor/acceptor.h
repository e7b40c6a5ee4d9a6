// The main reactor: accepts on one or more listeners on its own thread (so a busy
// JS thread never stalls accepts) and hands each socket to a loop, through the
// registry, by the configured balancing rule.
#pragma once
#include <cstdint>
#include <vector>

#include "sys/sock.h"

namespace rn {

enum balance : int { BAL_ROUND_ROBIN = 0, BAL_LEAST_CONN = 1, BAL_SOURCE_HASH = 2 };

struct acceptor;

int acceptor_create(balance b, acceptor** out);
// Listen before start(); returns 0 or -errno with *failed_call set.
int acceptor_listen(acceptor* a, const addr& at, const listen_opts& o, addr* bound, const char** failed_call);
// Start the thread, handing connections to these loop ids.
int acceptor_start(acceptor* a, const std::vector<uint32_t>& loop_ids);
// Replace the loops connections go to (a failed loop out, its restart in). Any thread.
void acceptor_set_loops(acceptor* a, const std::vector<uint32_t>& loop_ids);
// Stop the thread (if started), close the listeners, free. Idempotent per pointer.
void acceptor_destroy(acceptor* a);
uint64_t acceptor_accepted(const acceptor* a);

// The balancing rule alone, for tests: which of n loops gets the next connection.
// counter: connections handed out so far; counts[i]: live connections of loop i
// (negative = loop gone); peer: the client's address.
int balance_pick(balance b, uint64_t counter, const std::vector<int64_t>& counts, const addr& peer);

}  // namespace rn
