// The TLS engine of transport/tls.h over OpenSSL 3 (Node's own in the addon; the
// system's in the native tests), its context half: availability, options,
// certificates, verification, ALPN, SNI, tickets. Sessions: tls_session_openssl.cc.
//
// OpenSSL's error queue is per thread and, on the main thread, shared with Node's
// own crypto: every entry point here leaves it empty (ERR_clear_error) so that a
// TLS failure on a ringnet connection never shows up as a stale error in Node.
#include "transport/tls_openssl_impl.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <new>

#include "sys/dynsym.h"

namespace rn {

namespace {

int g_ctx_index = -1;  // SSL_CTX ex-data slot holding its tls_ctx

}  // namespace

tls_ctx* tls_ctx_of_ssl_ctx(const SSL_CTX* x) {
  return x && g_ctx_index >= 0 ? static_cast<tls_ctx*>(SSL_CTX_get_ex_data(x, g_ctx_index)) : nullptr;
}

// Node's names for X509_V_ERR_* (its X509_ERROR_CODE_TO_STRING list).
const char* tls_x509_code(long v) {
  switch (v) {
#define C(n) \
  case X509_V_ERR_##n: return #n;
    C(UNABLE_TO_GET_ISSUER_CERT) C(UNABLE_TO_GET_CRL) C(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    C(UNABLE_TO_DECRYPT_CRL_SIGNATURE) C(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY) C(CERT_SIGNATURE_FAILURE)
    C(CRL_SIGNATURE_FAILURE) C(CERT_NOT_YET_VALID) C(CERT_HAS_EXPIRED) C(CRL_NOT_YET_VALID)
    C(CRL_HAS_EXPIRED) C(ERROR_IN_CERT_NOT_BEFORE_FIELD) C(ERROR_IN_CERT_NOT_AFTER_FIELD)
    C(ERROR_IN_CRL_LAST_UPDATE_FIELD) C(ERROR_IN_CRL_NEXT_UPDATE_FIELD) C(OUT_OF_MEM)
    C(DEPTH_ZERO_SELF_SIGNED_CERT) C(SELF_SIGNED_CERT_IN_CHAIN) C(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    C(UNABLE_TO_VERIFY_LEAF_SIGNATURE) C(CERT_CHAIN_TOO_LONG) C(CERT_REVOKED) C(INVALID_CA)
    C(PATH_LENGTH_EXCEEDED) C(INVALID_PURPOSE) C(CERT_UNTRUSTED) C(CERT_REJECTED)
#undef C
    case X509_V_ERR_HOSTNAME_MISMATCH: return "ERR_TLS_CERT_ALTNAME_INVALID";
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return "ERR_TLS_CERT_ALTNAME_INVALID";
    default: return "UNABLE_TO_VERIFY_LEAF_SIGNATURE";
  }
}

namespace {

// "wrong version number" -> "WRONG_VERSION_NUMBER".
std::string upper_reason(const char* r) {
  std::string s;
  for (const char* p = r; *p; p++) s += *p == ' ' ? '_' : static_cast<char>(toupper(static_cast<unsigned char>(*p)));
  return s;
}

// Node's prefix for an OpenSSL library: ERR_SSL_ for libssl, ERR_OSSL_<LIB>_ else.
std::string lib_prefix(unsigned long code) {
  switch (ERR_GET_LIB(code)) {
    case ERR_LIB_SSL: return "ERR_SSL_";
    case ERR_LIB_PEM: return "ERR_OSSL_PEM_";
    case ERR_LIB_X509: return "ERR_OSSL_X509_";
    case ERR_LIB_X509V3: return "ERR_OSSL_X509V3_";
    case ERR_LIB_EVP: return "ERR_OSSL_EVP_";
    case ERR_LIB_ASN1: return "ERR_OSSL_ASN1_";
    case ERR_LIB_RSA: return "ERR_OSSL_RSA_";
    case ERR_LIB_EC: return "ERR_OSSL_EC_";
    case ERR_LIB_BIO: return "ERR_OSSL_BIO_";
    case ERR_LIB_PROV: return "ERR_OSSL_PROV_";
    case ERR_LIB_OSSL_DECODER: return "ERR_OSSL_OSSL_DECODER_";
    default: return "ERR_OSSL_";
  }
}

}  // namespace

void tls_take_error(tls_error* e, const char* fallback) {
  unsigned long code = ERR_peek_error();
  if (code) {
    const char* reason = ERR_reason_error_string(code);
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    e->code = lib_prefix(code) + (reason ? upper_reason(reason) : "UNKNOWN");
    e->message = buf;
  } else {
    e->code = fallback;
    e->message = fallback;
  }
  ERR_clear_error();
}

namespace {

int verify_cb(int ok, X509_STORE_CTX* store) {
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  tls_sess* s = ssl ? static_cast<tls_sess*>(SSL_get_app_data(ssl)) : nullptr;
  // A leaf whose issuer is unknown: OpenSSL says UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  // first and, when verification goes on (as node:tls lets it), ends with
  // UNABLE_TO_VERIFY_LEAF_SIGNATURE ("unable to verify the first certificate"),
  // which is the code Node reports. Say that one at once.
  if (!ok && X509_STORE_CTX_get_error(store) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY &&
      X509_STORE_CTX_get_error_depth(store) == 0)
    X509_STORE_CTX_set_error(store, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
  int e = X509_STORE_CTX_get_error(store);
  X509* cur = X509_STORE_CTX_get_current_cert(store);
  if (!ok && s && cur && (e == X509_V_ERR_HOSTNAME_MISMATCH || e == X509_V_ERR_IP_ADDRESS_MISMATCH))
    s->mismatch_san = tls_san_of(cur);
  // Verification runs fully either way; rejecting is the context's choice, and the
  // result stays readable (authorized / authorizationError) when not rejecting.
  if (!s || s->ctx->reject_unauthorized) return ok;
  return 1;
}

int alpn_select_cb(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void* arg) {
  (void)ssl;
  tls_ctx* c = static_cast<tls_ctx*>(arg);
  if (c->alpn_wire.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* sel = nullptr;
  unsigned char sel_len = 0;
  if (SSL_select_next_proto(&sel, &sel_len, c->alpn_wire.data(), static_cast<unsigned>(c->alpn_wire.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // Node >= 17: no_application_protocol
  *out = sel;
  *outlen = sel_len;
  return SSL_TLSEXT_ERR_OK;
}

bool name_matches(const std::string& pattern, const char* name) {
  if (strcasecmp(pattern.c_str(), name) == 0) return true;
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const char* dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(pattern.c_str() + 1, dot) == 0;
  }
  return false;
}

// sni_async: a ClientHello naming a server pauses the handshake once (the host
// answers with a context: tls_sess_sni_answer), then goes on.
int hello_cb(SSL* ssl, int* alert, void*) {
  (void)alert;
  tls_sess* s = static_cast<tls_sess*>(SSL_get_app_data(ssl));
  if (!s || s->sni_state == 2) return SSL_CLIENT_HELLO_SUCCESS;
  if (s->sni_state == 1) return SSL_CLIENT_HELLO_RETRY;
  const unsigned char* p = nullptr;
  size_t n = 0;
  // server_name extension: list length (2), then type 0 (host_name), length (2), name.
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &n) != 1 || n < 5 || p[2] != 0)
    return SSL_CLIENT_HELLO_SUCCESS;
  size_t len = static_cast<size_t>(p[3]) << 8 | p[4];
  if (len == 0 || len > 255 || 5 + len > n) return SSL_CLIENT_HELLO_SUCCESS;
  s->sni_name.assign(reinterpret_cast<const char*>(p + 5), len);
  s->sni_state = 1;
  return SSL_CLIENT_HELLO_RETRY;
}

int sni_cb(SSL* ssl, int* alert, void* arg) {
  (void)alert;
  tls_ctx* c = static_cast<tls_ctx*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_NOACK;
  for (auto& e : c->sni) {
    if (name_matches(e.first, name)) {
      SSL_set_SSL_CTX(ssl, e.second->ctx);
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_OK;  // the default context answers
}

// pfx: a PKCS#12 bundle's certificate, key and chain into ctx (node:tls's `pfx`).
// Certificates and key given as PEM as well are loaded after it and win.
bool load_pfx(SSL_CTX* ctx, const tls_ctx_opts& o, tls_error* err) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(o.pfx.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(o.pfx.size()));
  EVP_PKEY* pkey = nullptr;
  X509* leaf = nullptr;
  STACK_OF(X509)* chain = nullptr;
  bool ok = p12 && PKCS12_parse(p12, o.passphrase.c_str(), &pkey, &leaf, &chain) == 1;
  if (!ok) {
    tls_take_error(err, p12 ? "ERR_OSSL_MAC_VERIFY_FAILURE" : "ERR_OSSL_ASN1_WRONG_TAG");
    err->message = std::string(p12 ? "pfx: cannot open it (wrong passphrase?): " : "pfx: not PKCS#12 (DER): ") + err->message;
  } else if (!leaf || !pkey) {
    err->code = "ERR_RINGNET_INVALID_OPTION";
    err->message = "pfx: it holds no certificate with its private key";
    ok = false;
  } else if (SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1) {
    tls_take_error(err, "ERR_OSSL_X509_KEY_VALUES_MISMATCH");
    err->message = "pfx: " + err->message;
    ok = false;
  }
  // The rest of the bundle: the chain the server sends after its leaf.
  while (ok && chain && sk_X509_num(chain) > 0) {
    X509* x = sk_X509_shift(chain);
    if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
      X509_free(x);
      tls_take_error(err, "ERR_OSSL_INVALID_ARGUMENT");
      err->message = "pfx: its chain: " + err->message;
      ok = false;
    }
  }
  sk_X509_pop_free(chain, X509_free);
  X509_free(leaf);
  EVP_PKEY_free(pkey);
  PKCS12_free(p12);
  return ok;
}

// Every PEM object in text that read() parses, handed to add() and freed; false,
// with `missing` as err's message, when there is none.
template <typename T>
bool each_pem(const std::string& text, T* (*read)(BIO*, T**, pem_password_cb*, void*), void (*free_it)(T*),
              const char* missing, tls_error* err, const std::function<void(T*)>& add) {
  BIO* b = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  int n = 0;
  for (T* x; b && (x = read(b, nullptr, nullptr, nullptr)) != nullptr; n++) {
    add(x);
    free_it(x);
  }
  BIO_free(b);
  ERR_clear_error();
  if (n == 0) {
    err->code = "ERR_OSSL_PEM_NO_START_LINE";
    err->message = missing;
  }
  return n > 0;
}

bool load_pem(SSL_CTX* ctx, const tls_ctx_opts& o, tls_error* err) {
  if (!o.pfx.empty() && !load_pfx(ctx, o, err)) return false;
  if (!o.cert.empty()) {
    BIO* b = BIO_new_mem_buf(o.cert.data(), static_cast<int>(o.cert.size()));
    X509* leaf = b ? PEM_read_bio_X509_AUX(b, nullptr, nullptr, nullptr) : nullptr;
    bool ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    while (ok) {  // the rest of the PEM: the chain
      X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
      if (!x) {
        ERR_clear_error();  // end of the PEM
        break;
      }
      if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
        X509_free(x);
        ok = false;
      }
    }
    BIO_free(b);
    if (!ok) {
      tls_take_error(err, "ERR_OSSL_PEM_NO_START_LINE");
      err->message = "cert: " + err->message;
      return false;
    }
  }
  if (!o.key.empty()) {
    BIO* b = BIO_new_mem_buf(o.key.data(), static_cast<int>(o.key.size()));
    EVP_PKEY* k = b ? PEM_read_bio_PrivateKey(b, nullptr, nullptr, const_cast<char*>(o.passphrase.c_str())) : nullptr;
    BIO_free(b);
    bool ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    EVP_PKEY_free(k);
    if (ok && !o.cert.empty()) ok = SSL_CTX_check_private_key(ctx) == 1;
    if (!ok) {
      tls_take_error(err, "ERR_OSSL_BAD_DECRYPT");
      err->message = "key: " + err->message;
      return false;
    }
  }
  X509_STORE* st = SSL_CTX_get_cert_store(ctx);
  if (!o.ca.empty() && !each_pem<X509>(o.ca, PEM_read_bio_X509, X509_free, "ca: no PEM certificate found", err, [&](X509* x) {
        X509_STORE_add_cert(st, x);
        if (o.server) SSL_CTX_add_client_CA(ctx, x);
      }))
    return false;
  // CRLs: the peer's chain is checked against them, every certificate against its
  // issuer's CRL (as node:tls's `crl` does).
  if (!o.crl.empty()) {
    if (!each_pem<X509_CRL>(o.crl, PEM_read_bio_X509_CRL, X509_CRL_free, "crl: no PEM CRL found", err, [&](X509_CRL* x) { X509_STORE_add_crl(st, x); }))
      return false;
    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  if (o.ca_default || (!o.server && o.ca.empty())) SSL_CTX_set_default_verify_paths(ctx);
  return true;
}

}  // namespace

int tls_available(const char** why) {
  static int state = 0;  // 0 unknown, 1 yes, -1 no
  static const char* reason = nullptr;
  if (state == 0) {
    // The addon leaves libssl's symbols to the host. Look before calling: a host
    // without them (or with BoringSSL, which has SSL_read but not OPENSSL_version_major)
    // must get an error, not an unresolved call.
    static const char* const needed[] = {"OPENSSL_version_major", "OpenSSL_version_num", "SSL_CTX_new", "SSL_read",
                                         "SSL_write", "SSL_set_bio", "BIO_meth_new", "X509_digest", "ERR_peek_error"};
    for (const char* n : needed) {
      if (!dynsym_find(n)) {
        reason = "this process has no OpenSSL 3 (the node binary exports none: an Electron or a shared-OpenSSL build?)";
        state = -1;
        break;
      }
    }
    if (state == 0) {
      if (OpenSSL_version_num() < 0x30000000UL) {
        reason = "the process's OpenSSL is older than 3.0";
        state = -1;
      } else {
        state = 1;
        g_ctx_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
      }
    }
  }
  if (why) *why = reason;
  return state == 1 ? 0 : -ENOSYS;
}

int tls_ctx_create(const tls_ctx_opts& o, tls_ctx** out, tls_error* err) {
  const char* why = nullptr;
  if (tls_available(&why) < 0) {
    err->code = "ERR_RINGNET_TLS_UNAVAILABLE";
    err->message = why;
    return -ENOSYS;
  }
  ERR_clear_error();
  tls_ctx* c = new (std::nothrow) tls_ctx();
  if (!c) return -ENOMEM;
  c->server = o.server;
  c->handshake_ms = o.server ? o.handshake_timeout_ms : 0;
  c->reject_unauthorized = o.reject_unauthorized;
  c->ctx = SSL_CTX_new(o.server ? TLS_server_method() : TLS_client_method());
  if (!c->ctx) {
    tls_take_error(err, "ERR_OSSL_MALLOC_FAILURE");
    delete c;
    return -ENOMEM;
  }
  SSL_CTX* x = c->ctx;
  SSL_CTX_set_ex_data(x, g_ctx_index, c);
  // Renegotiation refused (client- and server-initiated); no compression (CRIME).
  uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
  if (o.server) opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  if (!o.tickets) opts |= SSL_OP_NO_TICKET;
  SSL_CTX_set_options(x, opts);
  SSL_CTX_set_mode(x, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  auto fail = [&](const char* what) {
    tls_take_error(err, "ERR_OSSL_INVALID_ARGUMENT");
    err->message = std::string(what) + ": " + err->message;
    SSL_CTX_free(x);
    delete c;
    return -EINVAL;
  };
  if (SSL_CTX_set_min_proto_version(x, o.min_version) != 1 || SSL_CTX_set_max_proto_version(x, o.max_version) != 1)
    return fail("minVersion/maxVersion");
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(x, o.ciphers.c_str()) != 1) return fail("ciphers");
  if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(x, o.ciphersuites.c_str()) != 1) return fail("ciphersuites");
  if (!load_pem(x, o, err)) {
    SSL_CTX_free(x);
    delete c;
    return -EINVAL;
  }
  for (const std::string& p : o.alpn) {
    if (p.empty() || p.size() > 255) {
      err->code = "ERR_INVALID_ARG_VALUE";
      err->message = "ALPNProtocols: each name must be 1..255 bytes";
      SSL_CTX_free(x);
      delete c;
      return -EINVAL;
    }
    c->alpn_wire.push_back(static_cast<uint8_t>(p.size()));
    c->alpn_wire.insert(c->alpn_wire.end(), p.begin(), p.end());
  }
  if (o.server) {
    int mode = SSL_VERIFY_NONE;
    if (o.request_cert) {
      mode = SSL_VERIFY_PEER;
      if (o.reject_unauthorized) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(x, mode, verify_cb);
    SSL_CTX_set_alpn_select_cb(x, alpn_select_cb, c);
    SSL_CTX_set_tlsext_servername_callback(x, sni_cb);
    if (o.sni_async) SSL_CTX_set_client_hello_cb(x, hello_cb, nullptr);
    SSL_CTX_set_tlsext_servername_arg(x, c);
    SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_SERVER);
    static const unsigned char sid[] = "ringnet";
    SSL_CTX_set_session_id_context(x, sid, sizeof(sid) - 1);
    SSL_CTX_set_timeout(x, o.session_timeout);
    // Ticket keys given (the same on every loop of an engine, and kept across
    // setSecureContext): a ticket one loop issued resumes on any other.
    if (!o.ticket_keys.empty() &&
        (o.ticket_keys.size() != 80 ||
         SSL_CTX_set_tlsext_ticket_keys(x, const_cast<char*>(o.ticket_keys.data()), 80) != 1)) {
      err->code = "ERR_INVALID_ARG_VALUE";
      err->message = "ticketKeys: 80 bytes expected";
      SSL_CTX_free(x);
      delete c;
      return -EINVAL;
    }
    // The same keys, the same session-id cache: one engine's loops resume each
    // other's sessions (TLS 1.2 without tickets), as they do each other's tickets.
    if (!o.ticket_keys.empty()) tls_share_session_cache(c, o.ticket_keys);
  } else {
    SSL_CTX_set_verify(x, SSL_VERIFY_PEER, verify_cb);
    if (!c->alpn_wire.empty()) SSL_CTX_set_alpn_protos(x, c->alpn_wire.data(), static_cast<unsigned>(c->alpn_wire.size()));
  }
  ERR_clear_error();
  *out = c;
  return 0;
}

void tls_ctx_ref(tls_ctx* c) { __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED); }

void tls_ctx_unref(tls_ctx* c) {
  if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (auto& e : c->sni) tls_ctx_unref(e.second);
  SSL_CTX_free(c->ctx);
  delete c;
}

int tls_ctx_add_sni(tls_ctx* c, const std::string& name, tls_ctx* sub) {
  if (!c->server || !sub->server) return -EINVAL;
  tls_ctx_ref(sub);
  c->sni.emplace_back(name, sub);
  return 0;
}

}  // namespace rn
