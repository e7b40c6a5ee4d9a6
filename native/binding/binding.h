// The binding's shared half: helpers every binding file uses (errors, addresses,
// listen arguments, TLS context handles) and what binding.cc's Init registers from
// the other files. Private to native/binding/.
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "codec/codec.h"
#include "loop/loop.h"
#include "rn.h"
#include "transport/tls.h"

namespace rn {
struct loop;
}

namespace rnb {

using namespace rn;

// An Error with code (the errno name) and errno, message "<what>: <strerror>".
Napi::Error make_error(Napi::Env env, int err, const std::string& what);
// An ArrayBuffer of size bytes over cache-line-aligned memory (binding_util.cc); nullptr on failure.
void* aligned_arraybuffer(napi_env env, size_t size, napi_value* out);
// A loop's or UDP socket's batch: call its (arrow) dispatch function under its async
// context; an exception it throws is the process's uncaught exception.
void call_dispatch(napi_env env, napi_async_context ctx, napi_value fn, size_t argc, const napi_value* argv);
Napi::Object addr_object(Napi::Env env, const addr& a);
Napi::Value throw_listen_error(Napi::Env env, int r, const char* failed, const std::string& host, uint32_t port, int family);
bool parse_listen_args(const Napi::CallbackInfo& info, addr* a, listen_opts* lo, std::string* host, uint32_t* port);
Napi::Object names_object(Napi::Env env, const std::vector<std::pair<std::string, std::string>>& v);

// binding_tls.cc-style helpers (in binding_util.cc): TLS contexts as Externals.
Napi::Error tls_js_error(Napi::Env env, const std::string& code, const std::string& message);
tls_ctx* tls_ctx_of(Napi::Value v);
Napi::Value TlsContext(const Napi::CallbackInfo& info);
Napi::Value TlsUnavailable(const Napi::CallbackInfo& info);

// binding_codec.cc: framing codec specs from JS (issue 12); add_codec is Loop.addCodec.
bool codec_spec_of(Napi::Env env, Napi::Value v, codec_spec* s);
Napi::Value add_codec(const Napi::CallbackInfo& info, loop* l);

// binding_loop.cc: the Loop class (one native loop on its JS thread) and post().
Napi::Function LoopClass(Napi::Env env);
Napi::Value Post(const Napi::CallbackInfo& info);
// A Loop object's C++ side (nullptr if v is not a Loop), and its native loop
// (nullptr once closed). The pointer stays valid while a reference holds the object.
void* LoopWrapOf(Napi::Value v);
loop* LoopNative(void* wrap);

// binding_loop_tls.cc: the Loop class's TLS methods (loop_ may be nullptr: closed)
// and a tls:// dial's client session (false: a JS error was thrown).
Napi::Value js_tls_info(const Napi::CallbackInfo& info, loop* loop_);
Napi::Value js_tls_session(const Napi::CallbackInfo& info, loop* loop_);
Napi::Value js_tls_sni_name(const Napi::CallbackInfo& info, loop* loop_);
Napi::Value js_tls_sni_answer(const Napi::CallbackInfo& info, loop* loop_);
Napi::Value js_tls_error(const Napi::CallbackInfo& info, loop* loop_);
bool dial_tls_session(Napi::Env env, Napi::Object t, tls_sess** out);

// binding_udp.cc: the Udp class (a UDP socket on a loop) and its layout constants.
Napi::Function UdpClass(Napi::Env env);
Napi::Object UdpLayout(Napi::Env env);

}  // namespace rnb
