// The TLS engine of transport/tls.h over OpenSSL 3, its session half: a session
// runs over two memory BIOs (ciphertext in, ciphertext out), so readiness and
// completion backends drive it the same way; handshake, records, close_notify,
// and what a session reports (tls_sess_info, tls_sess_session). Contexts:
// tls_context_openssl.cc.
//
// OpenSSL's error queue is per thread and, on the main thread, shared with Node's
// own crypto: every entry point here leaves it empty (ERR_clear_error).
#include "transport/tls_openssl_impl.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <new>

namespace rn {

namespace {

tls_sess* sess_new(tls_ctx* c) {
  tls_sess* s = new (std::nothrow) tls_sess();
  if (!s) return nullptr;
  s->ssl = SSL_new(c->ctx);
  s->rbio = tls_bio_new();
  s->wbio = tls_bio_new();
  if (!s->ssl || !s->rbio || !s->wbio) {
    SSL_free(s->ssl);
    BIO_free(s->rbio);
    BIO_free(s->wbio);
    delete s;
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_bio(s->ssl, s->rbio, s->wbio);
  SSL_set_app_data(s->ssl, s);
  tls_ctx_ref(c);
  s->ctx = c;
  return s;
}

bool is_ip(const std::string& h) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(h.c_str());
  ASN1_OCTET_STRING_free(ip);
  ERR_clear_error();
  return ip != nullptr;
}

}  // namespace

tls_sess* tls_sess_new(tls_ctx* c, const char* servername) {
  if (!c->server) {
    std::string n = servername ? servername : "";
    return tls_sess_new_client(c, n, n);
  }
  tls_sess* s = sess_new(c);
  if (s) SSL_set_accept_state(s->ssl);
  return s;
}

tls_sess* tls_sess_new_client(tls_ctx* c, const std::string& sni, const std::string& host, const uint8_t* session,
                              size_t session_len) {
  if (c->server) return nullptr;
  tls_sess* s = sess_new(c);
  if (!s) return nullptr;
  SSL_set_connect_state(s->ssl);
  if (!sni.empty() && !is_ip(sni)) SSL_set_tlsext_host_name(s->ssl, sni.c_str());  // RFC 6066: no IP in SNI
  s->host = host;
  if (!host.empty()) {
    if (is_ip(host)) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host.c_str());
    else SSL_set1_host(s->ssl, host.c_str());
  }
  if (session && session_len > 0 && session_len < (1u << 20)) {
    const unsigned char* p = session;
    SSL_SESSION* ss = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(session_len));
    if (ss) {
      SSL_set_session(s->ssl, ss);  // takes its own reference
      SSL_SESSION_free(ss);
    }
  }
  ERR_clear_error();
  return s;
}

uint32_t tls_sess_handshake_ms(const tls_sess* s) { return s->ctx->handshake_ms; }

bool tls_sess_session(const tls_sess* s, std::string* out) {
  SSL_SESSION* ss = SSL_get1_session(s->ssl);
  bool ok = false;
  if (ss && SSL_SESSION_is_resumable(ss)) {
    int n = i2d_SSL_SESSION(ss, nullptr);
    if (n > 0) {
      out->resize(static_cast<size_t>(n));
      unsigned char* p = reinterpret_cast<unsigned char*>(&(*out)[0]);
      ok = i2d_SSL_SESSION(ss, &p) == n;
    }
  }
  SSL_SESSION_free(ss);
  ERR_clear_error();
  return ok;
}

void tls_sess_free(tls_sess* s) {
  if (!s) return;
  SSL_free(s->ssl);  // frees both BIOs
  tls_ctx_unref(s->sni_ctx);
  tls_ctx_unref(s->ctx);
  delete s;
}

bool tls_sess_server(const tls_sess* s) { return s->ctx->server; }

int tls_feed(tls_sess* s, const uint8_t* p, size_t n) {
  if (n > 0 && !tls_bio_append(s->rbio, p, n)) {
    s->err.code = "ENOMEM";
    s->err.message = "TLS: no memory for received bytes";
    return TLS_FAILED;
  }
  return 0;
}

size_t tls_buffered_in(const tls_sess* s) { return tls_bio_size(s->rbio); }

namespace {

// Node's message for ERR_TLS_CERT_ALTNAME_INVALID (tls.checkServerIdentity's).
void altname_message(tls_sess* s) {
  const std::string& san = s->mismatch_san;  // verify_cb took it: a failed verify keeps no peer certificate
  s->err.message = "Hostname/IP does not match certificate's altnames: " +
                   std::string(is_ip(s->host) ? "IP: " : "Host: ") + s->host + ". is not in the cert's altnames: " + san;
}

// A failed SSL call: the verify result wins (it names the certificate problem),
// then the queued error; both queues emptied.
int fail(tls_sess* s, int rc) {
  int e = SSL_get_error(s->ssl, rc);
  long v = SSL_get_verify_result(s->ssl);
  if (v != X509_V_OK && (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL)) {
    s->err.code = tls_x509_code(v);
    s->err.message = X509_verify_cert_error_string(v);
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) altname_message(s);
    ERR_clear_error();
  } else if (e == SSL_ERROR_SSL) {
    tls_take_error(&s->err, "ERR_SSL_PROTOCOL_ERROR");
  } else {
    s->err.code = "ERR_SSL_PROTOCOL_ERROR";
    s->err.message = "TLS protocol error";
    ERR_clear_error();
  }
  return TLS_FAILED;
}

}  // namespace

int tls_handshake(tls_sess* s) {
  if (s->established) return TLS_DONE;
  if (!s->err.code.empty()) return TLS_FAILED;
  ERR_clear_error();
  int rc = SSL_do_handshake(s->ssl);
  if (rc == 1) {
    s->established = true;
    return TLS_DONE;
  }
  int e = SSL_get_error(s->ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return TLS_AGAIN;
  }
  if (e == SSL_ERROR_WANT_CLIENT_HELLO_CB) {
    ERR_clear_error();
    return TLS_SNI;
  }
  return fail(s, rc);
}

const std::string& tls_sess_sni_name(const tls_sess* s) { return s->sni_name; }

void tls_sess_sni_answer(tls_sess* s, tls_ctx* sub) {
  if (s->sni_state != 1) return;
  s->sni_state = 2;
  if (sub && sub->server) {
    tls_ctx_ref(sub);
    tls_ctx_unref(s->sni_ctx);
    s->sni_ctx = sub;
    SSL_set_SSL_CTX(s->ssl, sub->ctx);
  }
  ERR_clear_error();
}

bool tls_established(const tls_sess* s) { return s->established; }

int tls_read(tls_sess* s, uint8_t* dst, size_t cap) {
  if (!s->err.code.empty()) return TLS_FAILED;
  if (cap == 0) return TLS_AGAIN;
  ERR_clear_error();
  int want = cap > INT32_MAX ? INT32_MAX : static_cast<int>(cap);
  int rc = SSL_read(s->ssl, dst, want);
  if (rc > 0) return rc;
  int e = SSL_get_error(s->ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return TLS_AGAIN;
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return TLS_CLOSED;
  }
  return fail(s, rc);
}

size_t tls_pending(const tls_sess* s) { return static_cast<size_t>(SSL_pending(s->ssl)); }

int tls_write(tls_sess* s, const iovec_t* iov, int n) {
  if (!s->err.code.empty() || !s->established || s->shut) return TLS_FAILED;
  ERR_clear_error();
  constexpr size_t kRecord = 16384;
  uint8_t gather[kRecord];
  size_t g = 0;
  auto put = [&](const uint8_t* p, size_t len) {
    while (len > 0) {
      int chunk = len > (1u << 30) ? (1 << 30) : static_cast<int>(len);
      int rc = SSL_write(s->ssl, p, chunk);
      if (rc <= 0) return false;
      p += rc;
      len -= static_cast<size_t>(rc);
    }
    return true;
  };
  for (int i = 0; i < n; i++) {
    const uint8_t* p = static_cast<const uint8_t*>(iov[i].iov_base);
    size_t len = iov[i].iov_len;
    if (g == 0 && len >= kRecord) {  // big: straight from the caller's memory
      if (!put(p, len)) return fail(s, -1);
      continue;
    }
    while (len > 0) {  // small: gathered, so a batch of small writes is full records
      size_t take = kRecord - g < len ? kRecord - g : len;
      memcpy(gather + g, p, take);
      g += take;
      p += take;
      len -= take;
      if (g == kRecord) {
        if (!put(gather, g)) return fail(s, -1);
        g = 0;
      }
    }
  }
  if (g > 0 && !put(gather, g)) return fail(s, -1);
  return 0;
}

int tls_shutdown(tls_sess* s) {
  if (s->shut || !s->established) return 0;
  s->shut = true;
  ERR_clear_error();
  SSL_shutdown(s->ssl);  // 0: sent ours, the peer's not yet seen: fine, we close
  ERR_clear_error();
  return 0;
}

size_t tls_out(tls_sess* s, const uint8_t** p) { return tls_bio_peek(s->wbio, p); }

void tls_out_clear(tls_sess* s) { tls_bio_clear(s->wbio); }

const tls_error& tls_sess_error(const tls_sess* s) { return s->err; }

namespace {

std::string bio_string(BIO* b) {
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  return n > 0 ? std::string(d, static_cast<size_t>(n)) : std::string();
}

}  // namespace

// "DNS:a.example, IP Address:127.0.0.1" (Node's form), or "" when there is none.
std::string tls_san_of(X509* x) {
  std::string out;
  BIO* b = BIO_new(BIO_s_mem());
  if (!b) return out;
  int idx = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
  if (idx >= 0 && X509V3_EXT_print(b, X509_get_ext(x, idx), 0, 0) == 1) out = bio_string(b);
  BIO_free(b);
  ERR_clear_error();
  return out;
}

namespace {

void name_entries(X509_NAME* nm, std::vector<std::pair<std::string, std::string>>* out) {
  int count = X509_NAME_entry_count(nm);
  for (int i = 0; i < count; i++) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(nm, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : "UNKNOWN";
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len >= 0) out->emplace_back(sn, std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)));
    OPENSSL_free(utf8);
  }
}

void cert_info(X509* x, tls_cert_info* out) {
  name_entries(X509_get_subject_name(x), &out->subject);
  name_entries(X509_get_issuer_name(x), &out->issuer);
  BIO* b = BIO_new(BIO_s_mem());
  if (b) {
    ASN1_TIME_print(b, X509_get0_notBefore(x));
    out->valid_from = bio_string(b);
    (void)BIO_reset(b);
    ASN1_TIME_print(b, X509_get0_notAfter(x));
    out->valid_to = bio_string(b);
    (void)BIO_reset(b);
    BIO_free(b);
    out->subjectaltname = tls_san_of(x);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < mdlen; i++) {
      if (i) out->fingerprint256 += ':';
      out->fingerprint256 += hex[md[i] >> 4];
      out->fingerprint256 += hex[md[i] & 15];
    }
  }
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(x), nullptr);
  if (bn) {
    char* h = BN_bn2hex(bn);
    if (h) out->serial_number = h;
    OPENSSL_free(h);
    BN_free(bn);
  }
}

}  // namespace

int tls_sess_info(const tls_sess* s, tls_info* out) {
  SSL* ssl = s->ssl;
  out->protocol = SSL_get_version(ssl);
  const unsigned char* a = nullptr;
  unsigned int alen = 0;
  SSL_get0_alpn_selected(ssl, &a, &alen);
  out->alpn.assign(reinterpret_cast<const char*>(a ? a : reinterpret_cast<const unsigned char*>("")), alen);
  const char* sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  out->servername = sn ? sn : "";
  const char* cn = SSL_get_cipher_name(ssl);
  out->cipher = cn ? cn : "";
  out->reused = SSL_session_reused(ssl) == 1;
  X509* peer = SSL_get1_peer_certificate(ssl);
  out->has_peer_cert = peer != nullptr;
  long v = SSL_get_verify_result(ssl);
  out->authorized = peer && v == X509_V_OK;
  if (!out->authorized) out->authorization_error = peer ? tls_x509_code(v) : "";
  if (peer) {
    cert_info(peer, &out->peer);
    X509_free(peer);
  }
  ERR_clear_error();
  return 0;
}

}  // namespace rn
