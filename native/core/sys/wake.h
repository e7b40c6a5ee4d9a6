// A wake fd: any thread signals it, the loop's poller sees it readable, the loop
// clears it. eventfd on Linux (wake_linux.cc), a self-pipe elsewhere (wake_pipe.cc);
// the build picks one.
#pragma once

namespace rn {

struct wake_fd {
  int rfd = -1;  // watched for POLL_READ
  int wfd = -1;  // written by wake_signal (== rfd for an eventfd)
};

// Open a non-blocking, close-on-exec wake fd. 0 or -errno.
int wake_open(wake_fd* w);
// Thread-safe. A signal that finds one already pending is dropped: one is enough.
void wake_signal(const wake_fd& w);
// Loop only: consume every pending signal.
void wake_clear(const wake_fd& w);
void wake_close(wake_fd* w);

}  // namespace rn
