// The Loop class's TLS half (binding_loop.cc calls these): what a TLS connection
// reports (tlsInfo, tlsSession, tlsError), the SNICallback hop (tlsSniName,
// tlsSniAnswer), and the client session a tls:// dial starts with. Marshalling only;
// TLS itself is native/core/transport/tls_*.
#include <napi.h>

#include <cerrno>
#include <string>

#include "loop/loop.h"
#include "transport/tls.h"

#include "binding.h"

namespace rnb {

// tlsInfo(slot, gen) -> { protocol, alpn, servername, cipher, reused, authorized,
//   authorizationError, peer: { subject, issuer, valid_from, valid_to, fingerprint256, … } | null } | null
Napi::Value js_tls_info(const Napi::CallbackInfo& info, loop* loop_) {
  Napi::Env env = info.Env();
  if (!loop_) return env.Null();
  tls_info t;
  if (loop_conn_tls_info(loop_, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(), &t) < 0)
    return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("protocol", t.protocol);
  o.Set("alpn", t.alpn);
  o.Set("servername", t.servername);
  o.Set("cipher", t.cipher);
  o.Set("reused", t.reused);
  o.Set("authorized", t.authorized);
  if (!t.authorization_error.empty()) o.Set("authorizationError", t.authorization_error);
  if (t.has_peer_cert) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("subject", names_object(env, t.peer.subject));
    p.Set("issuer", names_object(env, t.peer.issuer));
    if (!t.peer.subjectaltname.empty()) p.Set("subjectaltname", t.peer.subjectaltname);
    p.Set("valid_from", t.peer.valid_from);
    p.Set("valid_to", t.peer.valid_to);
    p.Set("fingerprint256", t.peer.fingerprint256);
    p.Set("serialNumber", t.peer.serial_number);
    o.Set("peer", p);
  } else {
    o.Set("peer", env.Null());
  }
  return o;
}

// tlsSession(slot, gen) -> Buffer (DER) | null: the client session to resume with.
Napi::Value js_tls_session(const Napi::CallbackInfo& info, loop* loop_) {
  Napi::Env env = info.Env();
  std::string der;
  if (!loop_ || loop_conn_tls_session(loop_, info[0].As<Napi::Number>().Uint32Value(),
                                      info[1].As<Napi::Number>().Uint32Value(), &der) < 0)
    return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(der.data()), der.size());
}

// tlsSniName(slot, gen) -> the server name an EV_TLS_SNI handshake asks for | null
Napi::Value js_tls_sni_name(const Napi::CallbackInfo& info, loop* loop_) {
  Napi::Env env = info.Env();
  const std::string* n = loop_ ? loop_tls_sni_name(loop_, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value()) : nullptr;
  return n ? Napi::String::New(env, *n) : env.Null();
}

// tlsSniAnswer(slot, gen, context | null, errorCode?, errorMessage?) -> 0 or -errno
Napi::Value js_tls_sni_answer(const Napi::CallbackInfo& info, loop* loop_) {
  Napi::Env env = info.Env();
  if (!loop_) return Napi::Number::New(env, -EBADF);
  tls_error e;
  bool failed = info.Length() > 3 && info[3].IsString();
  if (failed) {
    e.code = info[3].As<Napi::String>().Utf8Value();
    e.message = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : e.code;
  }
  int r = loop_tls_sni_answer(loop_, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
                              tls_ctx_of(info[2]), failed ? &e : nullptr);
  return Napi::Number::New(env, r);
}

// tlsError(arg of EV_CLOSE / EV_TLS_ERROR) -> { code, message } | null
Napi::Value js_tls_error(const Napi::CallbackInfo& info, loop* loop_) {
  Napi::Env env = info.Env();
  const tls_error* e = loop_ ? loop_tls_error(loop_, info[0].As<Napi::Number>().Int32Value()) : nullptr;
  if (!e) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("code", e->code);
  o.Set("message", e->message);
  return o;
}

// dial's tls argument { context (a client context), servername (SNI), host (the
// identity checked), session (DER) } as a client session in *out; false after
// throwing a JS error.
bool dial_tls_session(Napi::Env env, Napi::Object t, tls_sess** out) {
  tls_ctx* ctx = tls_ctx_of(t.Get("context"));
  Napi::Value sn = t.Get("servername"), h = t.Get("host"), se = t.Get("session");
  if (!ctx) {
    tls_js_error(env, "ERR_INVALID_ARG_TYPE", "dial: no client context").ThrowAsJavaScriptException();
    return false;
  }
  std::string sni = sn.IsString() ? sn.As<Napi::String>().Utf8Value() : std::string();
  std::string host_id = h.IsString() ? h.As<Napi::String>().Utf8Value() : std::string();
  const uint8_t* sp = nullptr;
  size_t sl = 0;
  if (se.IsTypedArray()) {
    Napi::Uint8Array u = se.As<Napi::Uint8Array>();
    sp = u.Data();
    sl = u.ByteLength();
  }
  *out = tls_sess_new_client(ctx, sni, host_id, sp, sl);
  if (!*out) {
    tls_js_error(env, "ERR_INVALID_ARG_VALUE", "dial: not a client context, or out of memory").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace rnb
