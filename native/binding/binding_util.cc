// Helpers shared by the binding files (binding.h): errors, addresses, listen
// arguments, and TLS contexts as Externals.
#include <cstring>
#include <new>

#include "binding.h"
#include "loop/loop.h"
#include "mem/bufpool.h"
#include "sys/sock.h"

namespace rnb {

namespace {
void FinalizeTlsCtx(Napi::Env, tls_ctx* c) { tls_ctx_unref(c); }
}  // namespace

Napi::Error make_error(Napi::Env env, int err, const std::string& what) {
  int e = err < 0 ? -err : err;
  std::string code = errno_name(e);
  Napi::Error x = Napi::Error::New(env, what + ": " + code + " (" + errno_text(e) + ")");
  x.Set("code", code);
  x.Set("errno", Napi::Number::New(env, -e));
  return x;
}

Napi::Object addr_object(Napi::Env env, const addr& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", a.family == kFamilyUnix ? "unix" : a.family == 6 ? "IPv6" : "IPv4");
  o.Set("address", a.host);
  o.Set("port", a.family == kFamilyUnix ? 0 : a.port);
  return o;
}

// Listen errors: code = errno name, message names the syscall and the address.
Napi::Value throw_listen_error(Napi::Env env, int r, const char* failed, const std::string& host, uint32_t port, int family) {
  std::string where = family == kFamilyUnix ? "unix://" + host
                      : family == 6 ? "tcp://[" + host + "]:" + std::to_string(port)
                                    : "tcp://" + host + ":" + std::to_string(port);
  Napi::Error e = make_error(env, r, std::string(failed) + " " + where);
  e.Set("syscall", failed);
  e.Set("address", host);
  e.Set("port", Napi::Number::New(env, port));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool parse_listen_args(const Napi::CallbackInfo& info, addr* a, listen_opts* lo, std::string* host, uint32_t* port) {
  Napi::Env env = info.Env();
  *host = info[0].As<Napi::String>().Utf8Value();
  *port = info[1].As<Napi::Number>().Uint32Value();
  Napi::Object o = info[2].As<Napi::Object>();
  lo->reuse_addr = o.Get("reuseAddr").ToBoolean();
  lo->reuse_port = o.Get("reusePort").ToBoolean();
  if (o.Get("backlog").IsNumber()) lo->backlog = o.Get("backlog").As<Napi::Number>().Int32Value();
  if (o.Get("unix").ToBoolean()) {
    if (o.Get("mode").IsNumber()) lo->unix_mode = o.Get("mode").As<Napi::Number>().Int32Value();
    int r = sock_parse_unix(host->c_str(), a);
    if (r == -EAFNOSUPPORT && (*host)[0] != '@') {
      // No Unix domain sockets on this OS (Windows: sys/sock_win.cc), not a bad path.
      make_error(env, r, "listen unix://" + *host + ": Unix domain sockets are not available on this platform").ThrowAsJavaScriptException();
      return false;
    }
    if (r < 0) {
      Napi::Error e = Napi::Error::New(env, "ringnet: invalid unix socket path '" + *host + "': " +
                                                (r == -ENAMETOOLONG ? "longer than sun_path holds" : r == -EAFNOSUPPORT ? "abstract names (@name) are Linux only" : "empty"));
      e.Set("code", "ERR_RINGNET_INVALID_ADDR");
      e.ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }
  if (sock_parse(host->c_str(), static_cast<uint16_t>(*port), a) < 0) {
    Napi::Error e = Napi::Error::New(env, "ringnet: invalid address host '" + *host + "' (expected a numeric IPv4 or IPv6 address)");
    e.Set("code", "ERR_RINGNET_INVALID_ADDR");
    e.ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// ---- loop buffers -------------------------------------------------------------

// Memory for the loop (LoopWrap::AllocBuf), as an ArrayBuffer whose memory starts
// on a cache line (kBufAlign, mem/bufpool.h): a Node Buffer's own memory is
// malloc's, 16 bytes past a page at these sizes. An external ArrayBuffer over
// aligned memory, freed by its finalizer; a host that refuses external memory (a
// V8 sandbox: Electron) gets an ordinary one. Either way at offset 0: lib/view.ts
// makes its views from the ArrayBuffer alone.
void* aligned_arraybuffer(napi_env env, size_t size, napi_value* out) {
  void* mem = ::operator new(size ? size : 1, std::align_val_t(kBufAlign), std::nothrow);
  if (mem) {
    auto release = [](napi_env e, void* data, void* hint) {
      ::operator delete(data, std::align_val_t(kBufAlign));
      int64_t adjusted;
      napi_adjust_external_memory(e, -static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint)), &adjusted);
    };
    if (napi_create_external_arraybuffer(env, mem, size, release, reinterpret_cast<void*>(static_cast<uintptr_t>(size)), out) == napi_ok) {
      int64_t adjusted;
      napi_adjust_external_memory(env, static_cast<int64_t>(size), &adjusted);
      return mem;
    }
    ::operator delete(mem, std::align_val_t(kBufAlign));
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  void* data = nullptr;
  return napi_create_arraybuffer(env, size, &data, out) == napi_ok ? data : nullptr;
}

void call_dispatch(napi_env env, napi_async_context ctx, napi_value fn, size_t argc, const napi_value* argv) {
  // napi_make_callback wants an object receiver: the function itself (an arrow
  // function, whose this is its own), not napi_get_global's lookup per batch.
  napi_value result;
  if (napi_make_callback(env, ctx, fn, fn, argc, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

// ---- TLS contexts ----------------------------------------------------------------
// tlsContext({ server, cert, key, ca, passphrase, pfx (DER bytes), crl (PEM), alpn, ciphers, ciphersuites,
//   minVersion, maxVersion, requestCert, rejectUnauthorized, tickets, sessionTimeout, handshakeTimeout,
//   ticketKeys (80 bytes),
//   sni: [[name, context], …] }) -> an External owning one reference. Strings only:
//   lib/tls.ts normalizes node:tls's forms (Buffers, arrays, version names).

Napi::Error tls_js_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, "ringnet: TLS: " + message);
  e.Set("code", code);
  return e;
}

tls_ctx* tls_ctx_of(Napi::Value v) {
  if (!v.IsExternal()) return nullptr;
  return v.As<Napi::External<tls_ctx>>().Data();
}

Napi::Value TlsContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  auto str = [&](const char* k) {
    Napi::Value v = o.Get(k);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  };
  tls_ctx_opts t;
  t.server = o.Get("server").ToBoolean();
  t.cert = str("cert");
  t.key = str("key");
  t.ca = str("ca");
  t.passphrase = str("passphrase");
  t.crl = str("crl");
  Napi::Value pfx = o.Get("pfx");
  if (pfx.IsTypedArray()) {
    Napi::Uint8Array u = pfx.As<Napi::Uint8Array>();
    t.pfx.assign(reinterpret_cast<const char*>(u.Data()), u.ByteLength());
  }
  t.ciphers = str("ciphers");
  t.ciphersuites = str("ciphersuites");
  if (o.Get("minVersion").IsNumber()) t.min_version = o.Get("minVersion").As<Napi::Number>().Int32Value();
  if (o.Get("maxVersion").IsNumber()) t.max_version = o.Get("maxVersion").As<Napi::Number>().Int32Value();
  t.request_cert = o.Get("requestCert").ToBoolean();
  t.reject_unauthorized = o.Get("rejectUnauthorized").ToBoolean();
  t.tickets = o.Get("tickets").ToBoolean();
  if (o.Get("sessionTimeout").IsNumber()) t.session_timeout = o.Get("sessionTimeout").As<Napi::Number>().Int32Value();
  if (o.Get("handshakeTimeout").IsNumber()) t.handshake_timeout_ms = o.Get("handshakeTimeout").As<Napi::Number>().Uint32Value();
  t.sni_async = o.Get("sniAsync").ToBoolean();
  Napi::Value tk = o.Get("ticketKeys");
  if (tk.IsTypedArray()) {
    Napi::Uint8Array u = tk.As<Napi::Uint8Array>();
    t.ticket_keys.assign(reinterpret_cast<const char*>(u.Data()), u.ByteLength());
  }
  Napi::Value alpn = o.Get("alpn");
  if (alpn.IsArray()) {
    Napi::Array a = alpn.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) t.alpn.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  tls_ctx* c = nullptr;
  tls_error err;
  if (tls_ctx_create(t, &c, &err) < 0) {
    tls_js_error(env, err.code, err.message).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Value sni = o.Get("sni");
  if (sni.IsArray()) {
    Napi::Array a = sni.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Array pair = a.Get(i).As<Napi::Array>();
      tls_ctx* sub = tls_ctx_of(pair.Get(1u));
      if (!sub || tls_ctx_add_sni(c, pair.Get(0u).As<Napi::String>().Utf8Value(), sub) < 0) {
        tls_ctx_unref(c);
        tls_js_error(env, "ERR_INVALID_ARG_VALUE", "SNI contexts must be server contexts").ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
  }
  return Napi::External<tls_ctx>::New(env, c, FinalizeTlsCtx);
}

// null when TLS can run in this process, else why not.
Napi::Value TlsUnavailable(const Napi::CallbackInfo& info) {
  const char* why = nullptr;
  if (tls_available(&why) == 0) return info.Env().Null();
  return Napi::String::New(info.Env(), why ? why : "no OpenSSL");
}

Napi::Object names_object(Napi::Env env, const std::vector<std::pair<std::string, std::string>>& v) {
  Napi::Object o = Napi::Object::New(env);
  for (auto& e : v) {
    Napi::Value prev = o.Get(e.first);
    if (prev.IsString()) {  // repeated (OU=a, OU=b): an array, as Node has it
      Napi::Array a = Napi::Array::New(env, 2);
      a.Set(0u, prev);
      a.Set(1u, e.second);
      o.Set(e.first, a);
    } else if (prev.IsArray()) {
      Napi::Array a = prev.As<Napi::Array>();
      a.Set(a.Length(), e.second);
    } else {
      o.Set(e.first, e.second);
    }
  }
  return o;
}
}  // namespace rnb
