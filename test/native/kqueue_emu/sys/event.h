// <sys/event.h> for the kqueue emulation (kqueue_emu.cc): the kqueue ABI subset the
// kqueue backend uses, with the values macOS and FreeBSD both define, so
// native/core/poller/poller_kqueue.cc compiles unchanged on Linux. Only the test
// build of the kqueue backend puts this directory on its include path.
#pragma once
#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;   // fd, or an EVFILT_USER id
  int16_t filter;
  uint16_t flags;
  uint32_t fflags;
  intptr_t data;
  void* udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER (-10)

// actions
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
// flags
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
// returned
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

// EVFILT_USER fflags
#define NOTE_FFNOP 0x00000000u
#define NOTE_FFAND 0x40000000u
#define NOTE_FFOR 0x80000000u
#define NOTE_FFCOPY 0xc0000000u
#define NOTE_FFCTRLMASK 0xc0000000u
#define NOTE_FFLAGSMASK 0x00ffffffu
#define NOTE_TRIGGER 0x01000000u

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_set_ = (kevp);   \
    ev_set_->ident = (a);              \
    ev_set_->filter = (b);             \
    ev_set_->flags = (c);              \
    ev_set_->fflags = (d);             \
    ev_set_->data = (e);               \
    ev_set_->udata = (f);              \
  } while (0)

#ifdef __cplusplus
extern "C" {
#endif
int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist, int nevents,
           const struct timespec* timeout);
#ifdef __cplusplus
}
#endif
