// Probe: does this Windows (or Wine) give AF_UNIX stream sockets (Windows 10 1803+):
// socket, bind to a path, listen, connect, accept, send/recv, and the base handle an
// AFD poll needs? Exits 0 when all of it works, 1 at the first step that fails.
// Wine 8.0: socket(AF_UNIX, SOCK_STREAM) fails with WSAEAFNOSUPPORT (10047), which is
// why unix:// stays refused on Windows (sys/sock_win.cc). test:win runs it and
// prints the answer (not a failure either way).
//   x86_64-w64-mingw32-g++-posix -O1 -Inative/core test/win/unix_probe.cc
//       native/core/poller/afd_win.cc -lws2_32 -static -o build-win/unix_probe.exe
#include <winsock2.h>
#include <ws2tcpip.h>
#include <cstdio>
#include <cstring>
#include "poller/afd_win.h"
using namespace rn;
struct sockaddr_un_w { ADDRESS_FAMILY sun_family; char sun_path[108]; };
int main() {
  WSADATA wd; WSAStartup(MAKEWORD(2, 2), &wd);
  SOCKET l = socket(AF_UNIX, SOCK_STREAM, 0);
  printf("socket(AF_UNIX, SOCK_STREAM): %s (WSAGetLastError %d)\n", l == INVALID_SOCKET ? "fails" : "ok", l == INVALID_SOCKET ? WSAGetLastError() : 0);
  if (l == INVALID_SOCKET) return 1;
  sockaddr_un_w a{}; a.sun_family = AF_UNIX;
  char tmp[MAX_PATH]; GetTempPathA(sizeof(tmp), tmp);
  snprintf(a.sun_path, sizeof(a.sun_path), "%sringnet-unix-probe-%lu.sock", tmp, GetCurrentProcessId());
  DeleteFileA(a.sun_path);
  int r = bind(l, (sockaddr*)&a, sizeof(a));
  printf("bind(%s): %d (%d)\n", a.sun_path, r, r ? WSAGetLastError() : 0);
  r = listen(l, 16);
  printf("listen: %d (%d)\n", r, r ? WSAGetLastError() : 0);
  SOCKET c = socket(AF_UNIX, SOCK_STREAM, 0);
  r = connect(c, (sockaddr*)&a, sizeof(a));
  printf("connect: %d (%d)\n", r, r ? WSAGetLastError() : 0);
  SOCKET s = accept(l, nullptr, nullptr);
  printf("accept: %s (%d)\n", s == INVALID_SOCKET ? "fails" : "ok", s == INVALID_SOCKET ? WSAGetLastError() : 0);
  if (s != INVALID_SOCKET) {
    r = send(c, "ping", 4, 0);
    char b[8] = {0};
    int n = recv(s, b, sizeof(b), 0);
    printf("send %d, recv %d '%s'\n", r, n, b);
    SOCKET base = afd::base_socket(s);
    printf("SIO_BASE_HANDLE: %s\n", base == INVALID_SOCKET ? "fails" : "ok");
    DeleteFileA(a.sun_path);
    return n == 4 && base != INVALID_SOCKET ? 0 : 1;
  }
  DeleteFileA(a.sun_path);
  return 1;
}
