// Listening sockets: listen + register, and the accept burst with its EMFILE rule.
// One copy, used by the loops (in-loop accept) and the main reactor (acceptor.cc).
#pragma once
#include <cstdint>

#include "sys/sock.h"

namespace rn {

struct poller;

// Bind, listen and watch a non-blocking listener for POLL_READ reported as token.
// Returns the fd, or -errno with *failed_call naming what failed (the syscall, or
// the poller backend's name when registering failed). bound: the address it got.
int listener_open(poller* p, const addr& a, const listen_opts& o, uint64_t token, addr* bound, const char** failed_call);
// Stop watching and close.
void listener_close(poller* p, sock_t fd);

// What an accept burst does with each new connection, and how it went.
struct accept_sink {
  void* ud = nullptr;
  void (*on_fd)(void* ud, sock_t fd) = nullptr;  // takes ownership of fd
  uint32_t errors = 0;                           // failed accepts (EMFILE counted too)
  int last_error = 0;                            // the last failure's -errno, 0 if none
};

// Accept up to burst pending connections from lfd. Out of descriptors (EMFILE,
// ENFILE), the pending connection would keep the listener ready forever: the
// spare fd (*spare, from listener_spare_open) is spent to accept it and drop it,
// then reopened (libuv's trick). Returns the connections handed to the sink.
int listener_accept_burst(sock_t lfd, int burst, int* spare, accept_sink* sink);
// A descriptor held in reserve for that rule; -1 if none could be opened.
int listener_spare_open();
void listener_spare_close(int* spare);

}  // namespace rn
