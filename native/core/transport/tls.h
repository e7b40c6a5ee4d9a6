// TLS session engine: a filter between the loop's I/O and its stream state, over
// memory BIOs, so readiness and completion backends use it the same way.
//
//   ciphertext in  -> tls_feed()      (bytes the loop read, any backend)
//   handshake      -> tls_handshake() (on the loop thread, no thread hop)
//   plaintext out  -> tls_read()      (into memory JS views: the arena, a conn buffer)
//   plaintext in   -> tls_write()     (a batch of iovecs, one pass, full records)
//   ciphertext out -> tls_out() / tls_out_clear()
//
// The OpenSSL is the one the process already has: in the addon, Node's own
// (libssl symbols are left undefined and resolve against the node binary; no second
// OpenSSL in the process). tls_available() checks at run time that those symbols are
// there and are OpenSSL 3 (not, e.g., Electron's BoringSSL) before any other call.
//
// No OpenSSL type appears here: the loop and the binding include this header only.
// Everything runs on the calling thread; a tls_ctx may be shared by sessions on
// several threads (SSL_CTX is), a tls_sess belongs to one loop.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sys/sock.h"

namespace rn {

struct tls_ctx;
struct tls_sess;

// 0 when TLS can run in this process; -ENOSYS and a sentence otherwise.
int tls_available(const char** why);

struct tls_ctx_opts {
  bool server = true;
  std::string cert, key, passphrase;  // PEM (cert may hold a chain)
  std::string pfx;                    // PKCS#12 (DER): certificate, key and chain, opened
                                      // with passphrase; cert/key, when also given, win
  std::string crl;                    // PEM CRLs, one or more: the peer's chain is checked
                                      // against them (a revoked certificate: CERT_REVOKED)
  std::string ca;                     // PEM, one or more; empty: the default roots (client)
  bool ca_default = false;            // also trust OpenSSL's default verify paths
  std::vector<std::string> alpn;      // in preference order
  std::string ciphers;                // TLS 1.2 and below (OpenSSL cipher list)
  std::string ciphersuites;           // TLS 1.3
  int min_version = 0x0303;           // 0x0301..0x0304; TLS1.2 by default (Node's default)
  int max_version = 0x0304;
  bool request_cert = false;          // server: ask the client for a certificate
  bool reject_unauthorized = true;    // fail the handshake when the peer is not verified
  bool tickets = true;                // server: TLS session tickets
  long session_timeout = 300;         // seconds
  std::string ticket_keys;            // server: 80 bytes (name 16 | HMAC 32 | AES 32); empty: random
  uint32_t handshake_timeout_ms = 120000;  // server: a handshake not done by then fails (0: none)
  bool sni_async = false;             // server: a ClientHello with a server name pauses the
                                      // handshake (TLS_SNI) until tls_sess_sni_answer()
};

// Errors of context creation: a node-like code and a message.
struct tls_error {
  std::string code, message;
};

// A context: SSL_CTX plus its SNI map. Reference counted: sessions keep theirs.
int tls_ctx_create(const tls_ctx_opts& o, tls_ctx** out, tls_error* err);
void tls_ctx_ref(tls_ctx* c);
void tls_ctx_unref(tls_ctx* c);
// Server: the context used when the ClientHello names `name` (exact, or "*.x.y"
// for one label). Takes a reference to sub.
int tls_ctx_add_sni(tls_ctx* c, const std::string& name, tls_ctx* sub);

// Results of session calls.
constexpr int TLS_AGAIN = 0;        // needs more ciphertext
constexpr int TLS_DONE = 1;         // tls_handshake: finished
constexpr int TLS_SNI = 2;          // tls_handshake: paused for tls_sess_sni_answer (sni_async)
constexpr int TLS_CLOSED = -10000;  // the peer's close_notify
constexpr int TLS_FAILED = -10001;  // see tls_sess_error()

// servername: client only (SNI and host name verification; "" for none).
tls_sess* tls_sess_new(tls_ctx* c, const char* servername);
// A client session: sni is sent in the ClientHello ("" or an IP address: none);
// host is the identity the server's certificate must have (a DNS name, checked as
// X509_check_host does, or an IP address; "" for no check); session (DER, from
// tls_sess_session) is offered for resumption, ignored when it does not parse.
tls_sess* tls_sess_new_client(tls_ctx* c, const std::string& sni, const std::string& host,
                              const uint8_t* session = nullptr, size_t session_len = 0);
// sni_async: the server name the paused ClientHello asked for; then the answer:
// sub (a server context, referenced) answers it, nullptr keeps the session's own.
// The next tls_handshake() goes on.
const std::string& tls_sess_sni_name(const tls_sess* s);
void tls_sess_sni_answer(tls_sess* s, tls_ctx* sub);
// The session to resume with later (DER) in *out; false when there is none that
// can resume yet (TLS 1.3: the server's ticket comes after the handshake).
bool tls_sess_session(const tls_sess* s, std::string* out);
void tls_sess_free(tls_sess* s);
bool tls_sess_server(const tls_sess* s);
// A server session's handshake timeout (its listener context's), 0 for none or a client.
uint32_t tls_sess_handshake_ms(const tls_sess* s);

// Copy n ciphertext bytes in. 0 or TLS_FAILED (out of memory).
int tls_feed(tls_sess* s, const uint8_t* p, size_t n);
// Bytes fed and not yet consumed by OpenSSL (a partial record).
size_t tls_buffered_in(const tls_sess* s);
// Advance the handshake: TLS_DONE (now or before), TLS_AGAIN, TLS_FAILED.
// Output (ServerHello, alerts …) waits in tls_out().
int tls_handshake(tls_sess* s);
bool tls_established(const tls_sess* s);
// Decrypt into dst: bytes (> 0), TLS_AGAIN, TLS_CLOSED or TLS_FAILED.
int tls_read(tls_sess* s, uint8_t* dst, size_t cap);
// Plaintext OpenSSL holds already decrypted (a record bigger than the last cap).
size_t tls_pending(const tls_sess* s);
// Encrypt everything in iov (records of up to 16 KiB, small iovecs gathered into
// one record). 0 or TLS_FAILED.
int tls_write(tls_sess* s, const iovec_t* iov, int n);
// Queue close_notify (once). 0 or TLS_FAILED.
int tls_shutdown(tls_sess* s);
// Ciphertext waiting to be sent: *p, length; valid until the next call on s.
size_t tls_out(tls_sess* s, const uint8_t** p);
void tls_out_clear(tls_sess* s);
// The failure: code ("ERR_SSL_WRONG_VERSION_NUMBER", "CERT_HAS_EXPIRED",
// "ERR_TLS_CERT_ALTNAME_INVALID" …) and message.
const tls_error& tls_sess_error(const tls_sess* s);

struct tls_cert_info {
  std::vector<std::pair<std::string, std::string>> subject, issuer;  // short names: CN, O …
  std::string subjectaltname;  // "DNS:a.example, IP Address:127.0.0.1" (Node's form)
  std::string valid_from, valid_to;  // "Jan  2 03:04:05 2030 GMT"
  std::string fingerprint256;        // "AB:CD:…"
  std::string serial_number;         // hex, upper case
};

struct tls_info {
  std::string protocol;    // "TLSv1.3"
  std::string alpn;        // "" when none was agreed
  std::string servername;  // server: what the client asked for (SNI); client: what it sent
  std::string cipher;      // OpenSSL name
  bool reused = false;     // session resumed
  bool authorized = false; // the peer's certificate verified
  std::string authorization_error;  // its code when not
  bool has_peer_cert = false;
  tls_cert_info peer;
};
int tls_sess_info(const tls_sess* s, tls_info* out);

}  // namespace rn
