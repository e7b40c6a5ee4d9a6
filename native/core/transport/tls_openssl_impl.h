// Private to the OpenSSL engine of transport/tls.h: its two structs and the error
// helpers the context half (tls_context_openssl.cc: options, certificates,
// verification, SNI, tickets) and the session half (tls_session_openssl.cc: memory
// BIOs, handshake, read/write, what a session reports) share.
#pragma once
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport/tls.h"

namespace rn {

struct tls_sess_cache;  // tls_cache_openssl.cc

struct tls_ctx {
  SSL_CTX* ctx = nullptr;
  int refs = 1;  // sessions on one loop, contexts shared between loops: atomic
  bool server = true;
  bool reject_unauthorized = true;
  uint32_t handshake_ms = 0;       // server: tls_ctx_opts::handshake_timeout_ms
  std::vector<uint8_t> alpn_wire;  // length-prefixed protocol names
  std::vector<std::pair<std::string, tls_ctx*>> sni;
  std::shared_ptr<tls_sess_cache> sess_cache;  // server, ticket keys given: shared by their contexts
};

struct tls_sess {
  tls_ctx* ctx = nullptr;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // ciphertext in (owned by ssl)
  BIO* wbio = nullptr;  // ciphertext out (owned by ssl)
  bool established = false;
  bool shut = false;
  std::string host;  // client: the identity checked (for the altname message)
  std::string mismatch_san;  // the certificate's names, when they did not match host
  // sni_async: 0 not asked, 1 waiting for the host's answer, 2 answered.
  int sni_state = 0;
  std::string sni_name;
  tls_ctx* sni_ctx = nullptr;  // the answer's context (a reference)
  tls_error err;
};

// The session's byte queues (tls_bio_openssl.cc): a BIO that SSL reads
// ciphertext from / writes it to, which the loop fills and drains in place.
BIO* tls_bio_new();
bool tls_bio_append(BIO* b, const uint8_t* p, size_t n);  // false: out of memory
size_t tls_bio_size(const BIO* b);
size_t tls_bio_peek(BIO* b, const uint8_t** p);  // the queued bytes, valid until the next call on b
void tls_bio_clear(BIO* b);

// "DNS:a.example, IP Address:127.0.0.1" (Node's subjectaltname form), or "".
std::string tls_san_of(X509* x);

// The tls_ctx an SSL_CTX of this engine belongs to (nullptr for another's).
tls_ctx* tls_ctx_of_ssl_ctx(const SSL_CTX* x);
// Server: resumption by session id through a cache shared by every context built
// with these ticket keys (the loops of one engine), instead of OpenSSL's per-context one.
void tls_share_session_cache(tls_ctx* c, const std::string& ticket_keys);

// Node's name for an X509_V_ERR_* (CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID …).
const char* tls_x509_code(long v);
// The first queued OpenSSL error as Node's code (ERR_SSL_WRONG_VERSION_NUMBER,
// ERR_OSSL_PEM_NO_START_LINE …) and message, then the queue emptied.
void tls_take_error(tls_error* e, const char* fallback);

}  // namespace rn
