// Node-API glue: marshalling, errors with `code`, and the loop's place in libuv.
// Everything that is not glue lives in native/core.
#include <napi.h>
#ifndef _WIN32
#include <uv.h>
#endif

#include <cstring>
#include <string>
#include <vector>

#include "reactor/acceptor.h"
#include "sys/cpu.h"
#include "loop/layout.h"
#include "loop/loop.h"
#include "poller/poller.h"
#include "reactor/registry.h"
#include "rn.h"
#include "transport/tls.h"
#ifdef _WIN32
#include "host_waiter.h"
#endif

#include "binding.h"

namespace {

using namespace rn;
using namespace rnb;

// The main reactor, owned by the engine on the main thread.
class AcceptorWrap : public Napi::ObjectWrap<AcceptorWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Acceptor",
                       {InstanceMethod("listen", &AcceptorWrap::Listen), InstanceMethod("start", &AcceptorWrap::Start),
                        InstanceMethod("close", &AcceptorWrap::Close), InstanceMethod("accepted", &AcceptorWrap::Accepted),
                        InstanceMethod("setLoops", &AcceptorWrap::SetLoops)});
  }
  explicit AcceptorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AcceptorWrap>(info) {
    int r = acceptor_create(static_cast<balance>(info[0].As<Napi::Number>().Int32Value()), &a_);
    if (r < 0) make_error(info.Env(), r, "acceptor_create").ThrowAsJavaScriptException();
  }
  ~AcceptorWrap() override { acceptor_destroy(a_); }

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    addr a, bound;
    listen_opts lo;
    std::string host;
    uint32_t port;
    if (!a_ || !parse_listen_args(info, &a, &lo, &host, &port)) return env.Undefined();
    const char* failed = "listen";
    int r = acceptor_listen(a_, a, lo, &bound, &failed);
    if (r < 0) return throw_listen_error(env, r, failed, host, port, a.family);
    return addr_object(env, bound);
  }
  static std::vector<uint32_t> Ids(const Napi::CallbackInfo& info) {
    Napi::Array ids = info[0].As<Napi::Array>();
    std::vector<uint32_t> v;
    for (uint32_t i = 0; i < ids.Length(); i++) v.push_back(ids.Get(i).As<Napi::Number>().Uint32Value());
    return v;
  }
  Napi::Value SetLoops(const Napi::CallbackInfo& info) {
    if (a_) acceptor_set_loops(a_, Ids(info));
    return info.Env().Undefined();
  }
  Napi::Value Start(const Napi::CallbackInfo& info) {
    std::vector<uint32_t> v = Ids(info);
    int r = a_ ? acceptor_start(a_, v) : -EBADF;
    if (r < 0) make_error(info.Env(), r, "acceptor thread").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    acceptor_destroy(a_);
    a_ = nullptr;
    return info.Env().Undefined();
  }
  Napi::Value Accepted(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), a_ ? static_cast<double>(acceptor_accepted(a_)) : 0);
  }
  acceptor* a_ = nullptr;
};

Napi::Value PinThread(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu_pin_current(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value CpuList(Napi::Env env, const std::vector<int>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), v[i]);
  return a;
}

Napi::Value AllowedCpus(const Napi::CallbackInfo& info) { return CpuList(info.Env(), cpu_allowed()); }
Napi::Value CurrentCpus(const Napi::CallbackInfo& info) { return CpuList(info.Env(), cpu_current()); }
Napi::Value ThreadId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(cpu_thread_id())); }

Napi::Value LoopCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(registry_count(info[0].As<Napi::Number>().Uint32Value())));
}

// loopStats(id, Float64Array out) -> 0 | -errno
Napi::Value LoopStats(const Napi::CallbackInfo& info) {
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  if (out.ElementLength() < layout::ST_COUNT) return Napi::Number::New(info.Env(), -EINVAL);
  return Napi::Number::New(info.Env(), registry_stats(info[0].As<Napi::Number>().Uint32Value(), out.Data()));
}

// peerCredentials(fd) -> { pid, uid, gid } | null (not a Unix socket, or closed).
// Called on the loop's thread with a live connection's fd (its CT_FD).
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  peer_cred c;
  if (!info[0].IsNumber() || sock_peercred(info[0].As<Napi::Number>().Int32Value(), &c) < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", c.pid);
  o.Set("uid", c.uid);
  o.Set("gid", c.gid);
  return o;
}

Napi::Value ErrName(const Napi::CallbackInfo& info) {
  int e = info[0].As<Napi::Number>().Int32Value();
  return Napi::String::New(info.Env(), errno_name(e < 0 ? -e : e));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Loop", LoopClass(env));
  exports.Set("Acceptor", AcceptorWrap::Init(env));
  exports.Set("Udp", UdpClass(env));
  exports.Set("udpLayout", UdpLayout(env));
  exports.Set("post", Napi::Function::New(env, Post));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
  exports.Set("pinThread", Napi::Function::New(env, PinThread));
  exports.Set("allowedCpus", Napi::Function::New(env, AllowedCpus));
  exports.Set("currentCpus", Napi::Function::New(env, CurrentCpus));
  exports.Set("threadId", Napi::Function::New(env, ThreadId));
  exports.Set("loopCount", Napi::Function::New(env, LoopCount));
  exports.Set("loopStats", Napi::Function::New(env, LoopStats));
  exports.Set("errname", Napi::Function::New(env, ErrName));
  exports.Set("tlsContext", Napi::Function::New(env, TlsContext));
  exports.Set("tlsUnavailable", Napi::Function::New(env, TlsUnavailable));
  exports.Set("backend", poller_name());
  exports.Set("layoutVersion", Napi::Number::New(env, layout::LAYOUT_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(ringnet, Init)
