// The TLS engine's server session cache (session-id resumption, TLS 1.2 without
// tickets), shared by every context built with the same ticket keys: the loops of
// one engine (loops > 1) each build their own SSL_CTX from the same options and
// the engine's one set of keys, so a session one loop made resumes on another, as
// tickets do. OpenSSL's own cache is per SSL_CTX; this one replaces it (external
// callbacks, SSL_SESS_CACHE_NO_INTERNAL) for such contexts. Sessions are kept as
// DER, at most kMaxSessions per cache (the oldest go first), each until its
// timeout. Callbacks run on the loop threads; one mutex per cache.
#include <openssl/ssl.h>

#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "transport/tls_openssl_impl.h"

namespace rn {

struct tls_sess_cache {
  struct entry {
    std::string der;
    time_t expires = 0;
    uint64_t seq = 0;
  };
  std::mutex mu;
  std::unordered_map<std::string, entry> map;        // session id -> session
  std::deque<std::pair<std::string, uint64_t>> order;  // oldest first (id, seq)
  uint64_t next_seq = 0;
};

namespace {

constexpr size_t kMaxSessions = 20480;  // OpenSSL's own default cache size
constexpr int kMaxDer = 16384;          // a session with a huge certificate chain is not kept

std::mutex g_mu;
std::map<std::string, std::weak_ptr<tls_sess_cache>> g_caches;  // by ticket keys

std::shared_ptr<tls_sess_cache> cache_of(SSL* ssl) {
  // The SSL's context may be an SNI context: built from the same keys, same cache.
  tls_ctx* c = tls_ctx_of_ssl_ctx(SSL_get_SSL_CTX(ssl));
  return c ? c->sess_cache : nullptr;
}

// Whether an order entry still names the session it was made for (ids removed by
// remove_cb or get_cb's expiry, or stored again, leave stale entries behind).
bool live(const tls_sess_cache& k, const std::pair<std::string, uint64_t>& e) {
  auto it = k.map.find(e.first);
  return it != k.map.end() && it->second.seq == e.second;
}

// Keep a cache within kMaxSessions and its order within twice that, under its
// mutex: from the front go the oldest sessions past the bound, expired ones, and
// stale entries; stale entries that pile up behind a live front (connections that
// ended without close_notify have their sessions removed) are compacted away.
void trim(tls_sess_cache& k, time_t now) {
  while (!k.order.empty()) {
    const auto& front = k.order.front();
    if (live(k, front)) {
      auto it = k.map.find(front.first);
      if (k.map.size() <= kMaxSessions && it->second.expires > now) break;
      k.map.erase(it);
    }
    k.order.pop_front();
  }
  if (k.order.size() > 2 * kMaxSessions) {
    std::deque<std::pair<std::string, uint64_t>> kept;
    for (auto& e : k.order)
      if (live(k, e)) kept.push_back(std::move(e));
    k.order.swap(kept);
  }
}

int new_cb(SSL* ssl, SSL_SESSION* sess) {
  std::shared_ptr<tls_sess_cache> k = cache_of(ssl);
  unsigned id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess, &id_len);
  int n = i2d_SSL_SESSION(sess, nullptr);
  if (!k || id_len == 0 || n <= 0 || n > kMaxDer) return 0;
  std::string der(static_cast<size_t>(n), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(&der[0]);
  if (i2d_SSL_SESSION(sess, &p) != n) return 0;
  std::string key(reinterpret_cast<const char*>(id), id_len);
  // The session was made just now. (Not SSL_SESSION_get_time: node.exe of Node 22,
  // on OpenSSL 3.5, exports only its _ex form.)
  const time_t now = time(nullptr);
  time_t expires = now + static_cast<time_t>(SSL_SESSION_get_timeout(sess));
  std::lock_guard<std::mutex> g(k->mu);
  uint64_t seq = ++k->next_seq;
  k->map[key] = tls_sess_cache::entry{std::move(der), expires, seq};
  k->order.emplace_back(std::move(key), seq);
  trim(*k, now);
  return 0;  // OpenSSL keeps its reference: the DER copy is ours
}

SSL_SESSION* get_cb(SSL* ssl, const unsigned char* id, int id_len, int* copy) {
  *copy = 0;
  std::shared_ptr<tls_sess_cache> k = cache_of(ssl);
  if (!k || id_len <= 0) return nullptr;
  std::string der;
  {
    std::lock_guard<std::mutex> g(k->mu);
    auto it = k->map.find(std::string(reinterpret_cast<const char*>(id), static_cast<size_t>(id_len)));
    if (it == k->map.end()) return nullptr;
    if (it->second.expires <= time(nullptr)) {
      k->map.erase(it);
      return nullptr;
    }
    der = it->second.der;
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  SSL_SESSION* s = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size()));
  ERR_clear_error();
  return s;  // ours to give: OpenSSL takes it (*copy = 0)
}

void remove_cb(SSL_CTX* ctx, SSL_SESSION* sess) {
  tls_ctx* c = tls_ctx_of_ssl_ctx(ctx);
  if (!c || !c->sess_cache) return;
  unsigned id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess, &id_len);
  std::lock_guard<std::mutex> g(c->sess_cache->mu);
  c->sess_cache->map.erase(std::string(reinterpret_cast<const char*>(id), id_len));
}

}  // namespace

void tls_share_session_cache(tls_ctx* c, const std::string& ticket_keys) {
  {
    std::lock_guard<std::mutex> g(g_mu);
    std::weak_ptr<tls_sess_cache>& w = g_caches[ticket_keys];
    c->sess_cache = w.lock();
    if (!c->sess_cache) {
      c->sess_cache = std::make_shared<tls_sess_cache>();
      w = c->sess_cache;
    }
    // Forget caches nobody holds any more (engines stopped, keys replaced).
    for (auto it = g_caches.begin(); it != g_caches.end();) it = it->second.expired() ? g_caches.erase(it) : std::next(it);
  }
  SSL_CTX* x = c->ctx;
  SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(x, new_cb);
  SSL_CTX_sess_set_get_cb(x, get_cb);
  SSL_CTX_sess_set_remove_cb(x, remove_cb);
}

}  // namespace rn
