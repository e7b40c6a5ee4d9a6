// The TLS engine of transport/tls.h for builds without OpenSSL: the native test
// programs of the win32 cross build (scripts/build-win.js --tests), which have no
// node.exe to take OpenSSL from; the win32 addon itself links node.exe's (the
// tls_*_openssl.cc engine). tls_available() says so, tls_ctx_create() fails with
// ERR_RINGNET_TLS_UNAVAILABLE, so serve({ tls }) rejects with that code and no
// session ever exists: the session calls below are unreachable and fail safely.
#include "transport/tls.h"

#include <cerrno>

namespace rn {

namespace {
const char* const kWhy = "this build of ringnet has no TLS engine (built without OpenSSL)";
}

int tls_available(const char** why) {
  if (why) *why = kWhy;
  return -ENOSYS;
}

int tls_ctx_create(const tls_ctx_opts&, tls_ctx** out, tls_error* err) {
  *out = nullptr;
  err->code = "ERR_RINGNET_TLS_UNAVAILABLE";
  err->message = kWhy;
  return -ENOSYS;
}
void tls_ctx_ref(tls_ctx*) {}
void tls_ctx_unref(tls_ctx*) {}
int tls_ctx_add_sni(tls_ctx*, const std::string&, tls_ctx*) { return -ENOSYS; }

tls_sess* tls_sess_new(tls_ctx*, const char*) { return nullptr; }
tls_sess* tls_sess_new_client(tls_ctx*, const std::string&, const std::string&, const uint8_t*, size_t) { return nullptr; }
bool tls_sess_session(const tls_sess*, std::string*) { return false; }
const std::string& tls_sess_sni_name(const tls_sess*) {
  static const std::string none;
  return none;
}
void tls_sess_sni_answer(tls_sess*, tls_ctx*) {}
void tls_sess_free(tls_sess*) {}
bool tls_sess_server(const tls_sess*) { return true; }
uint32_t tls_sess_handshake_ms(const tls_sess*) { return 0; }
int tls_feed(tls_sess*, const uint8_t*, size_t) { return TLS_FAILED; }
size_t tls_buffered_in(const tls_sess*) { return 0; }
int tls_handshake(tls_sess*) { return TLS_FAILED; }
bool tls_established(const tls_sess*) { return false; }
int tls_read(tls_sess*, uint8_t*, size_t) { return TLS_FAILED; }
size_t tls_pending(const tls_sess*) { return 0; }
int tls_write(tls_sess*, const iovec_t*, int) { return TLS_FAILED; }
int tls_shutdown(tls_sess*) { return TLS_FAILED; }
size_t tls_out(tls_sess*, const uint8_t** p) {
  *p = nullptr;
  return 0;
}
void tls_out_clear(tls_sess*) {}
const tls_error& tls_sess_error(const tls_sess*) {
  static const tls_error e{"ERR_RINGNET_TLS_UNAVAILABLE", kWhy};
  return e;
}
int tls_sess_info(const tls_sess*, tls_info*) { return -ENOSYS; }

}  // namespace rn
