// transport/tls.h: two engines (server and client) talking to each other in memory,
// over the system's OpenSSL 3 (the addon uses Node's). Certificates are made at test
// time with `openssl req` / `openssl x509` in a temporary directory.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "check.h"
#include "transport/tls.h"

using namespace rn;

namespace {

std::string g_dir;

void sh(const std::string& cmd) {
  std::string full = "cd " + g_dir + " && (" + cmd + ") >/dev/null 2>&1";
  int rc = system(full.c_str());
  CHECK_MSG(rc == 0, "command failed: %s", cmd.c_str());
}

std::string slurp(const std::string& name) {
  std::ifstream f(g_dir + "/" + name);
  std::stringstream s;
  s << f.rdbuf();
  CHECK_MSG(!s.str().empty(), "empty %s", name.c_str());
  return s.str();
}

// A CA, and leaf certificates it signs: localhost (valid), expired, other.example.
void make_certs() {
  char tmpl[] = "/tmp/ringnet-tls-XXXXXX";
  CHECK(mkdtemp(tmpl) != nullptr);
  g_dir = tmpl;
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  sh("openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 30 -subj /CN=ringnet-test-ca");
  auto leaf = [&](const std::string& name, const std::string& cn, const std::string& san, int days) {
    sh("openssl req " + ec + " -keyout " + name + ".key -out " + name + ".csr -subj /CN=" + cn);
    sh("printf 'subjectAltName=" + san + "\\n' > " + name + ".ext");
    sh("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days " +
       std::to_string(days) + " -extfile " + name + ".ext -out " + name + ".pem");
  };
  leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", 30);
  leaf("expired", "localhost", "DNS:localhost", -1);
  leaf("other", "other.example", "DNS:other.example", 30);
  leaf("client", "ringnet-client", "DNS:client", 30);
  sh("openssl req -x509 " + ec + " -keyout self.key -out self.pem -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost");
  // An encrypted key, for passphrase.
  sh("openssl pkey -in server.key -aes256 -passout pass:s3cret -out server-enc.key");
}

tls_ctx* ctx(tls_ctx_opts o) {
  tls_ctx* c = nullptr;
  tls_error e;
  int r = tls_ctx_create(o, &c, &e);
  CHECK_MSG(r == 0, "tls_ctx_create: %s %s", e.code.c_str(), e.message.c_str());
  return c;
}

tls_ctx_opts server_opts(const std::string& leaf = "server") {
  tls_ctx_opts o;
  o.server = true;
  o.cert = slurp(leaf + ".pem");
  o.key = slurp(leaf + ".key");
  return o;
}

tls_ctx_opts client_opts() {
  tls_ctx_opts o;
  o.server = false;
  o.ca = slurp("ca.pem");
  return o;
}

// Move ciphertext from a to b.
void pump(tls_sess* a, tls_sess* b) {
  const uint8_t* p = nullptr;
  size_t n = tls_out(a, &p);
  if (n) {
    CHECK_EQ(tls_feed(b, p, n), 0);
    tls_out_clear(a);
  }
}

// Run both handshakes to the end (or a failure); returns {server rc, client rc}.
std::pair<int, int> handshake(tls_sess* s, tls_sess* c) {
  int rs = TLS_AGAIN, rc = TLS_AGAIN;
  for (int i = 0; i < 20 && (rs != TLS_DONE || rc != TLS_DONE); i++) {
    if (rc != TLS_FAILED) rc = tls_handshake(c);
    pump(c, s);
    if (rs != TLS_FAILED) rs = tls_handshake(s);
    pump(s, c);
    if (rs == TLS_FAILED || rc == TLS_FAILED) {
      // let the alert reach the other side
      if (rc != TLS_FAILED) rc = tls_handshake(c);
      if (rs != TLS_FAILED) rs = tls_handshake(s);
      break;
    }
  }
  // TLS 1.3: the server's tickets (and a client certificate's verdict) arrive
  // after the client finished; one read lets the client take them.
  uint8_t tmp[64];
  if (rc == TLS_DONE) {
    int r = tls_read(c, tmp, sizeof(tmp));
    if (r == TLS_FAILED) rc = TLS_FAILED;
    pump(c, s);
  }
  return {rs, rc};
}

std::string read_all(tls_sess* s, size_t cap = 65536) {
  std::string out;
  std::vector<uint8_t> buf(cap);
  for (int i = 0; i < 100000; i++) {
    int r = tls_read(s, buf.data(), buf.size());
    if (r <= 0) break;
    out.append(reinterpret_cast<char*>(buf.data()), static_cast<size_t>(r));
  }
  return out;
}

void send(tls_sess* from, tls_sess* to, const std::string& msg) {
  iovec_t v{const_cast<char*>(msg.data()), msg.size()};
  CHECK_EQ(tls_write(from, &v, 1), 0);
  pump(from, to);
}

}  // namespace

TEST(available) {
  const char* why = nullptr;
  CHECK_MSG(tls_available(&why) == 0, "%s", why ? why : "");
}

TEST(echo_tls13_and_alpn) {
  tls_ctx_opts so = server_opts();
  so.alpn = {"h2", "http/1.1"};
  tls_ctx_opts co = client_opts();
  co.alpn = {"http/1.1", "h2"};
  tls_ctx *sc = ctx(so), *cc = ctx(co);
  tls_sess* s = tls_sess_new(sc, nullptr);
  tls_sess* c = tls_sess_new(cc, "localhost");
  auto r = handshake(s, c);
  CHECK_EQ(r.first, TLS_DONE);
  CHECK_EQ(r.second, TLS_DONE);
  tls_info si, ci;
  tls_sess_info(s, &si);
  tls_sess_info(c, &ci);
  CHECK_EQ(si.protocol, std::string("TLSv1.3"));
  CHECK_EQ(si.alpn, std::string("h2"));  // the server's preference
  CHECK_EQ(ci.alpn, std::string("h2"));
  CHECK_EQ(si.servername, std::string("localhost"));
  CHECK(ci.authorized);
  CHECK(ci.has_peer_cert);
  CHECK_EQ(ci.peer.subject.at(0).first, std::string("CN"));
  CHECK_EQ(ci.peer.subject.at(0).second, std::string("localhost"));
  CHECK_EQ(ci.peer.issuer.at(0).second, std::string("ringnet-test-ca"));
  CHECK_EQ(ci.peer.fingerprint256.size(), size_t{32 * 3 - 1});
  CHECK(ci.peer.subjectaltname.find("DNS:localhost") != std::string::npos);
  CHECK(ci.peer.valid_to.find("GMT") != std::string::npos);
  CHECK(!si.has_peer_cert);

  send(c, s, "ping");
  CHECK_EQ(read_all(s), std::string("ping"));
  // A batch of small writes: gathered, one pass.
  std::string small(100, 'x');
  std::vector<iovec_t> iov(300, iovec_t{const_cast<char*>(small.data()), small.size()});
  CHECK_EQ(tls_write(s, iov.data(), static_cast<int>(iov.size())), 0);
  pump(s, c);
  CHECK_EQ(read_all(c).size(), size_t{30000});
  // Big: 1 MiB, read back through a small buffer (plaintext held in OpenSSL).
  std::string big(1 << 20, 'b');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>('a' + i % 26);
  send(c, s, big);
  std::string got = read_all(s, 1000);
  CHECK(got == big);
  CHECK_EQ(tls_pending(s), size_t{0});
  // close_notify
  CHECK_EQ(tls_shutdown(c), 0);
  pump(c, s);
  uint8_t b[16];
  CHECK_EQ(tls_read(s, b, sizeof(b)), TLS_CLOSED);
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(sc);
  tls_ctx_unref(cc);
}

TEST(tls12_ciphers_and_passphrase) {
  tls_ctx_opts so = server_opts();
  so.key = slurp("server-enc.key");
  so.passphrase = "s3cret";
  so.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  tls_ctx_opts co = client_opts();
  co.max_version = 0x0303;
  tls_ctx *sc = ctx(so), *cc = ctx(co);
  tls_sess *s = tls_sess_new(sc, nullptr), *c = tls_sess_new(cc, "127.0.0.1");
  auto r = handshake(s, c);
  CHECK_EQ(r.first, TLS_DONE);
  CHECK_EQ(r.second, TLS_DONE);
  tls_info si;
  tls_sess_info(s, &si);
  CHECK_EQ(si.protocol, std::string("TLSv1.2"));
  CHECK_EQ(si.cipher, std::string("ECDHE-ECDSA-AES128-GCM-SHA256"));
  send(s, c, "hello over 1.2");
  CHECK_EQ(read_all(c), std::string("hello over 1.2"));
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(sc);
  tls_ctx_unref(cc);
  // A wrong passphrase is a context error with a code.
  so.passphrase = "wrong";
  tls_ctx* bad = nullptr;
  tls_error e;
  CHECK(tls_ctx_create(so, &bad, &e) < 0);
  CHECK_MSG(e.code.rfind("ERR_OSSL_", 0) == 0, "%s", e.code.c_str());  // Node: ERR_OSSL_BAD_DECRYPT
}

// A certificate problem seen by the client: the handshake fails with Node's code.
void expect_client_failure(const std::string& leaf, const char* servername, const std::string& code, bool with_ca = true) {
  tls_ctx_opts co = client_opts();
  if (!with_ca) co.ca = slurp("other.pem");  // a CA that did not sign it
  tls_ctx *sc = ctx(server_opts(leaf)), *cc = ctx(co);
  tls_sess *s = tls_sess_new(sc, nullptr), *c = tls_sess_new(cc, servername);
  auto r = handshake(s, c);
  CHECK_EQ(r.second, TLS_FAILED);
  CHECK_EQ(tls_sess_error(c).code, code);
  CHECK(r.first != TLS_DONE || true);  // the server sees the client's alert (or nothing)
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(sc);
  tls_ctx_unref(cc);
}

TEST(certificate_errors) {
  expect_client_failure("expired", "localhost", "CERT_HAS_EXPIRED");
  expect_client_failure("server", "wrong.example", "ERR_TLS_CERT_ALTNAME_INVALID");
  expect_client_failure("self", "localhost", "DEPTH_ZERO_SELF_SIGNED_CERT");
  // node:tls says this for a leaf whose issuer is unknown (tls-client.test.js
  // compares with it): "unable to verify the first certificate".
  expect_client_failure("server", "localhost", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", false);
}

TEST(not_rejecting_reports_authorization_error) {
  tls_ctx_opts co = client_opts();
  co.reject_unauthorized = false;
  tls_ctx *sc = ctx(server_opts("expired")), *cc = ctx(co);
  tls_sess *s = tls_sess_new(sc, nullptr), *c = tls_sess_new(cc, "localhost");
  auto r = handshake(s, c);
  CHECK_EQ(r.second, TLS_DONE);
  tls_info ci;
  tls_sess_info(c, &ci);
  CHECK(!ci.authorized);
  CHECK_EQ(ci.authorization_error, std::string("CERT_HAS_EXPIRED"));
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(sc);
  tls_ctx_unref(cc);
}

TEST(mtls_accepted_and_refused) {
  tls_ctx_opts so = server_opts();
  so.request_cert = true;
  so.ca = slurp("ca.pem");
  tls_ctx* sc = ctx(so);
  // With a client certificate the CA signed.
  tls_ctx_opts co = client_opts();
  co.cert = slurp("client.pem");
  co.key = slurp("client.key");
  tls_ctx* cc = ctx(co);
  tls_sess *s = tls_sess_new(sc, nullptr), *c = tls_sess_new(cc, "localhost");
  auto r = handshake(s, c);
  CHECK_EQ(r.first, TLS_DONE);
  tls_info si;
  tls_sess_info(s, &si);
  CHECK(si.authorized);
  CHECK_EQ(si.peer.subject.at(0).second, std::string("ringnet-client"));
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(cc);
  // Without one: the server refuses.
  cc = ctx(client_opts());
  s = tls_sess_new(sc, nullptr);
  c = tls_sess_new(cc, "localhost");
  r = handshake(s, c);
  CHECK_EQ(r.first, TLS_FAILED);
  CHECK_MSG(tls_sess_error(s).code == "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE", "%s",
            tls_sess_error(s).code.c_str());
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(cc);
  // A self-signed client certificate: refused with the certificate's problem.
  co.cert = slurp("self.pem");
  co.key = slurp("self.key");
  cc = ctx(co);
  s = tls_sess_new(sc, nullptr);
  c = tls_sess_new(cc, "localhost");
  r = handshake(s, c);
  CHECK_EQ(r.first, TLS_FAILED);
  CHECK_EQ(tls_sess_error(s).code, std::string("DEPTH_ZERO_SELF_SIGNED_CERT"));
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
}

TEST(sni_picks_the_context) {
  tls_ctx* sc = ctx(server_opts("server"));
  tls_ctx* other = ctx(server_opts("other"));
  CHECK_EQ(tls_ctx_add_sni(sc, "other.example", other), 0);
  tls_ctx_unref(other);  // sc holds it
  tls_ctx* cc = ctx(client_opts());
  for (const char* name : {"other.example", "localhost"}) {
    tls_sess *s = tls_sess_new(sc, nullptr), *c = tls_sess_new(cc, name);
    auto r = handshake(s, c);
    CHECK_EQ(r.second, TLS_DONE);
    tls_info ci;
    tls_sess_info(c, &ci);
    CHECK_EQ(ci.peer.subject.at(0).second, std::string(name));
    tls_sess_free(s);
    tls_sess_free(c);
  }
  tls_ctx_unref(cc);
  tls_ctx_unref(sc);
}

TEST(garbage_instead_of_client_hello) {
  tls_ctx* sc = ctx(server_opts());
  tls_sess* s = tls_sess_new(sc, nullptr);
  const char* http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK_EQ(tls_feed(s, reinterpret_cast<const uint8_t*>(http), strlen(http)), 0);
  CHECK_EQ(tls_handshake(s), TLS_FAILED);
  CHECK_MSG(tls_sess_error(s).code.rfind("ERR_SSL_", 0) == 0, "%s", tls_sess_error(s).code.c_str());
  CHECK_EQ(tls_handshake(s), TLS_FAILED);  // stays failed
  uint8_t b[8];
  CHECK_EQ(tls_read(s, b, sizeof(b)), TLS_FAILED);
  tls_sess_free(s);
  // Random bytes, fed one at a time: never a crash, eventually a failure.
  s = tls_sess_new(sc, nullptr);
  uint32_t x = 12345;
  int r = TLS_AGAIN;
  for (int i = 0; i < 100000 && r == TLS_AGAIN; i++) {
    x = x * 1103515245 + 12345;
    uint8_t byte = static_cast<uint8_t>(x >> 16);
    if (i == 0) byte = 0x16;  // looks like a handshake record at first
    tls_feed(s, &byte, 1);
    r = tls_handshake(s);
  }
  CHECK_EQ(r, TLS_FAILED);
  tls_sess_free(s);
  tls_ctx_unref(sc);
}

TEST(bad_context_options) {
  tls_ctx_opts o = server_opts();
  o.cert = "not a pem";
  tls_ctx* c = nullptr;
  tls_error e;
  CHECK(tls_ctx_create(o, &c, &e) < 0);
  CHECK_MSG(e.code == "ERR_OSSL_PEM_NO_START_LINE", "%s", e.code.c_str());
  o = server_opts();
  o.key = slurp("other.key");  // not the certificate's key
  CHECK(tls_ctx_create(o, &c, &e) < 0);
  CHECK_MSG(e.code == "ERR_OSSL_X509_KEY_VALUES_MISMATCH", "%s", e.code.c_str());
  o = server_opts();
  o.ciphers = "NOPE-NOT-A-CIPHER";
  CHECK(tls_ctx_create(o, &c, &e) < 0);
  CHECK_MSG(e.code == "ERR_SSL_NO_CIPHER_MATCH", "%s", e.code.c_str());
}

// Issue 11 (client side): a session taken from one connection resumes on a second
// server context built from the same options and ticket keys (another loop), for
// TLS 1.3 and 1.2; a garbled session is ignored; sni and the checked host apart.
TEST(client_session_resumes_across_contexts_with_shared_ticket_keys) {
  for (int max : {0x0304, 0x0303}) {
    tls_ctx_opts so = server_opts();
    so.ticket_keys.assign(80, 'k');
    tls_ctx_opts co = client_opts();
    co.max_version = max;
    tls_ctx *s1 = ctx(so), *s2 = ctx(so), *cc = ctx(co);
    tls_sess* a = tls_sess_new(s1, nullptr);
    tls_sess* c = tls_sess_new_client(cc, "localhost", "localhost");
    auto r = handshake(a, c);
    CHECK_EQ(r.second, TLS_DONE);
    std::string der;
    CHECK(tls_sess_session(c, &der));
    CHECK(der.size() > 32);
    tls_sess* b = tls_sess_new(s2, nullptr);  // "the other loop"
    tls_sess* c2 = tls_sess_new_client(cc, "localhost", "localhost", reinterpret_cast<const uint8_t*>(der.data()), der.size());
    r = handshake(b, c2);
    CHECK_EQ(r.first, TLS_DONE);
    CHECK_EQ(r.second, TLS_DONE);
    tls_info ci;
    tls_sess_info(c2, &ci);
    CHECK_MSG(ci.reused, "max version %x: not resumed", max);
    CHECK(ci.authorized);
    tls_sess* sv = tls_sess_new(s2, nullptr);
    const uint8_t junk[] = {1, 2, 3, 4, 5};
    tls_sess* c3 = tls_sess_new_client(cc, "", "localhost", junk, sizeof(junk));
    r = handshake(sv, c3);
    CHECK_EQ(r.second, TLS_DONE);
    tls_info si;
    tls_sess_info(c3, &ci);
    tls_sess_info(sv, &si);
    CHECK(!ci.reused);
    CHECK_EQ(si.servername, std::string(""));  // no SNI, the host still checked
    CHECK(ci.authorized);
    for (tls_sess* x : {a, c, b, c2, sv, c3}) tls_sess_free(x);
    for (tls_ctx* x : {s1, s2, cc}) tls_ctx_unref(x);
  }
  // Wrong host: node's code and message.
  tls_ctx_opts co = client_opts();
  tls_ctx *sc = ctx(server_opts()), *cc = ctx(co);
  tls_sess* s = tls_sess_new(sc, nullptr);
  tls_sess* c = tls_sess_new_client(cc, "localhost", "other.example");
  auto r = handshake(s, c);
  CHECK_EQ(r.second, TLS_FAILED);
  CHECK_EQ(tls_sess_error(c).code, std::string("ERR_TLS_CERT_ALTNAME_INVALID"));
  CHECK_MSG(tls_sess_error(c).message.find("Host: other.example. is not in the cert's altnames: DNS:localhost") != std::string::npos, "%s", tls_sess_error(c).message.c_str());
  tls_sess_free(s);
  tls_sess_free(c);
  tls_ctx_unref(sc);
  tls_ctx_unref(cc);
  tls_ctx_opts bad = server_opts();
  bad.ticket_keys = "short";
  tls_ctx* x = nullptr;
  tls_error e;
  CHECK(tls_ctx_create(bad, &x, &e) < 0);
  CHECK_EQ(e.code, std::string("ERR_INVALID_ARG_VALUE"));
}

// Session ids (TLS 1.2, tickets off): every server context built with the same
// ticket keys (the loops of one engine) shares one session cache, so a session one
// made resumes on another; a context with other keys has its own.
TEST(session_ids_resume_across_contexts_with_the_same_keys) {
  tls_ctx_opts so = server_opts();
  so.tickets = false;
  so.ticket_keys.assign(80, 'k');
  tls_ctx_opts other = so;
  other.ticket_keys.assign(80, 'z');
  tls_ctx_opts co = client_opts();
  co.max_version = 0x0303;
  tls_ctx *s1 = ctx(so), *s2 = ctx(so), *s3 = ctx(other), *cc = ctx(co);
  tls_sess* a = tls_sess_new(s1, nullptr);
  tls_sess* c = tls_sess_new_client(cc, "localhost", "localhost");
  CHECK_EQ(handshake(a, c).second, TLS_DONE);
  std::string der;
  CHECK(tls_sess_session(c, &der));
  auto resume = [&](tls_ctx* server) {
    tls_sess* b = tls_sess_new(server, nullptr);
    tls_sess* c2 = tls_sess_new_client(cc, "localhost", "localhost", reinterpret_cast<const uint8_t*>(der.data()), der.size());
    auto r = handshake(b, c2);
    CHECK_EQ(r.first, TLS_DONE);
    CHECK_EQ(r.second, TLS_DONE);
    tls_info si;
    tls_sess_info(b, &si);
    // A clean end (close_notify): OpenSSL drops the session of a connection freed
    // without one from the cache, as it should.
    CHECK_EQ(tls_shutdown(b), 0);
    tls_sess_free(b);
    tls_sess_free(c2);
    return si.reused;
  };
  CHECK_MSG(resume(s2), "not resumed on the second context with the same keys");
  CHECK_MSG(resume(s1), "not resumed on the first context");
  CHECK_MSG(!resume(s3), "resumed on a context with other keys");
  CHECK_EQ(tls_shutdown(a), 0);
  tls_sess_free(a);
  tls_sess_free(c);
  tls_ctx_unref(s1);
  // The cache outlives the context that made the session while another holds it.
  CHECK_MSG(resume(s2), "the cache went with the first context");
  for (tls_ctx* x : {s2, s3, cc}) tls_ctx_unref(x);
}

int main(int argc, char** argv) {
  make_certs();
  int r = check::run(argc, argv);
  std::string rm = "rm -rf " + g_dir;
  if (system(rm.c_str()) != 0) fprintf(stderr, "could not remove %s\n", g_dir.c_str());
  return r;
}
