// The Udp class: one UDP socket on a loop (native/core/loop/loop_udp.h). Its
// memory (received datagrams, queued sends, counters) is ArrayBuffers JS views;
// each received batch is one call of its dispatch function.
//   new Udp(loop, host, port, options, dispatch)
#include <napi.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "binding.h"
#include "loop/loop.h"
#include "loop/loop_udp.h"
#include "rn.h"

namespace rnb {

namespace {

class UdpWrap : public Napi::ObjectWrap<UdpWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Udp",
                       {
                           InstanceMethod("flush", &UdpWrap::Flush),
                           InstanceMethod("close", &UdpWrap::Close),
                           InstanceMethod("setOpt", &UdpWrap::SetOpt),
                           InstanceMethod("getOpt", &UdpWrap::GetOpt),
                           InstanceMethod("multicastInterface", &UdpWrap::McastIface),
                           InstanceMethod("membership", &UdpWrap::Membership),
                           InstanceMethod("takeError", &UdpWrap::TakeError),
                           StaticMethod("encode", &UdpWrap::Encode),
                       });
  }

  explicit UdpWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpWrap>(info) {
    Napi::Env env = info.Env();
    env_ = env;
    wrap_ = LoopWrapOf(info[0]);
    loop* l = LoopNative(wrap_);
    if (!l) {
      Napi::Error e = Napi::Error::New(env, "ringnet: the engine's loop is closed");
      e.Set("code", "ERR_RINGNET_CLOSED");
      e.ThrowAsJavaScriptException();
      return;
    }
    std::string host = info[1].As<Napi::String>().Utf8Value();
    uint32_t port = info[2].As<Napi::Number>().Uint32Value();
    Napi::Object o = info[3].As<Napi::Object>();
    auto num = [&](const char* k, uint32_t def) -> uint32_t {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
    };
    udp_config cfg;
    cfg.max_dgram = num("maxDatagramSize", cfg.max_dgram);
    cfg.batch = num("recvBatch", cfg.batch);
    cfg.tx_entries = num("sendQueue", cfg.tx_entries);
    cfg.tx_bytes = num("sendStaging", cfg.tx_bytes);
    if (cfg.max_dgram < 1 || cfg.max_dgram > 65535 || cfg.batch < 1 || cfg.batch > 1024 || cfg.tx_entries < 1 ||
        cfg.tx_bytes < 65536) {
      Napi::Error e = Napi::Error::New(env, "ringnet: udp: maxDatagramSize must be 1..65535, recvBatch 1..1024, sendQueue >= 1, sendStaging >= 65536");
      e.Set("code", "ERR_RINGNET_INVALID_OPTION");
      e.ThrowAsJavaScriptException();
      return;
    }
    udp_opts uo;
    uo.reuse_addr = o.Get("reuseAddr").ToBoolean();
    uo.reuse_port = o.Get("reusePort").ToBoolean();
    uo.ipv6_only = o.Get("ipv6Only").ToBoolean();
    uo.rcvbuf = static_cast<int>(num("recvBufferSize", 0));
    uo.sndbuf = static_cast<int>(num("sendBufferSize", 0));
    addr a;
    if (sock_parse(host.c_str(), static_cast<uint16_t>(port), &a) < 0 || port > 65535) {
      Napi::Error e = Napi::Error::New(env, "ringnet: invalid address host '" + host + "' (expected a numeric IPv4 or IPv6 address)");
      e.Set("code", "ERR_RINGNET_INVALID_ADDR");
      e.ThrowAsJavaScriptException();
      return;
    }
    udp_sizes sz = udp_shared_sizes(cfg);
    Napi::Object mem = Napi::Object::New(env);
    auto region = [&](const char* name, size_t bytes) -> void* {
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
      memset(ab.Data(), 0, bytes);
      mem.Set(name, ab);
      return ab.Data();
    };
    udp_shared shm;
    shm.rx = static_cast<uint8_t*>(region("rx", sz.rx));
    shm.rxd = static_cast<int32_t*>(region("rxd", sz.rxd));
    shm.txd = static_cast<int32_t*>(region("txd", sz.txd));
    shm.tx = static_cast<uint8_t*>(region("tx", sz.tx));
    shm.stats = static_cast<double*>(region("stats", sz.stats));
    memory_ = Napi::Persistent(mem);
    loop_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    dispatch_ = Napi::Persistent(info[4].As<Napi::Function>());
    udp_host h;
    h.ud = this;
    h.on_batch = &UdpWrap::OnBatch;
    addr bound;
    const char* failed = "bind";
    int id = loop_udp_open(l, a, uo, cfg, shm, h, &bound, &failed);
    if (id == -ENOTSUP && std::string(failed) == "udp") {
      Napi::Error e = Napi::Error::New(env, "ringnet: udp:// is not supported on this platform yet (Windows: the AFD backend has no datagram path)");
      e.Set("code", "ERR_RINGNET_UNSUPPORTED");
      e.ThrowAsJavaScriptException();
      return;
    }
    if (id < 0) {
      throw_listen_error(env, id, failed, host, port, a.family);
      return;
    }
    id_ = id;
    napi_async_init(env, Value(), Napi::String::New(env, "ringnet.Udp"), &async_ctx_);
    napi_add_env_cleanup_hook(env, &UdpWrap::EnvCleanup, this);
    Value().Set("memory", mem);
    Value().Set("address", addr_object(env, bound));
  }

  ~UdpWrap() override { Shut(false); }

 private:
  static void OnBatch(void* ud, int32_t count) {
    auto* self = static_cast<UdpWrap*>(ud);
    napi_value arg;
    napi_create_int32(self->env_, count, &arg);
    call_dispatch(self->env_, self->async_ctx_, self->dispatch_.Value(), 1, &arg);
  }

  static void EnvCleanup(void* arg) { static_cast<UdpWrap*>(arg)->Shut(true); }

  // Close the socket (if its loop still runs) and let go of the loop.
  // At environment teardown nothing JS is touched: the loop's own cleanup closes
  // its UDP sockets.
  void Shut(bool teardown) {
    if (id_ < 0) return;
    if (!teardown) {
      if (loop* l = LoopNative(wrap_)) loop_udp_close(l, id_);
      napi_async_destroy(env_, async_ctx_);
      napi_remove_env_cleanup_hook(env_, &UdpWrap::EnvCleanup, this);
      loop_ref_.Reset();
    }
    id_ = -1;
  }

  loop* Live(const Napi::CallbackInfo& info) {
    loop* l = id_ >= 0 ? LoopNative(wrap_) : nullptr;
    if (!l) {
      Napi::Error e = Napi::Error::New(info.Env(), "ringnet: udp socket is closed");
      e.Set("code", "ERR_SOCKET_DGRAM_NOT_RUNNING");
      e.ThrowAsJavaScriptException();
    }
    return l;
  }

  Napi::Value Check(const Napi::CallbackInfo& info, int r, const char* what) {
    if (r < 0) {
      make_error(info.Env(), r, what).ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    return Napi::Number::New(info.Env(), r);
  }

  // 0: sent; -EAGAIN: queued until writable; -EBADF: closed.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    loop* l = id_ >= 0 ? LoopNative(wrap_) : nullptr;
    return Napi::Number::New(info.Env(), l ? loop_udp_flush(l, id_) : -EBADF);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shut(false);
    return info.Env().Undefined();
  }

  Napi::Value SetOpt(const Napi::CallbackInfo& info) {
    loop* l = Live(info);
    if (!l) return info.Env().Undefined();
    int opt = info[0].As<Napi::Number>().Int32Value();
    int v = info[1].As<Napi::Number>().Int32Value();
    static const char* names[] = {"setsockopt(SO_BROADCAST)", "setsockopt(IP_TTL)", "setsockopt(IP_MULTICAST_TTL)",
                                  "setsockopt(IP_MULTICAST_LOOP)", "setsockopt(SO_RCVBUF)", "setsockopt(SO_SNDBUF)"};
    if (opt < 0 || opt > UDP_OPT_SNDBUF) return Check(info, -EINVAL, "setsockopt");
    return Check(info, loop_udp_set_opt(l, id_, static_cast<udp_opt>(opt), v), names[opt]);
  }

  Napi::Value GetOpt(const Napi::CallbackInfo& info) {
    loop* l = Live(info);
    if (!l) return info.Env().Undefined();
    return Check(info, loop_udp_get_opt(l, id_, static_cast<udp_opt>(info[0].As<Napi::Number>().Int32Value())), "getsockopt");
  }

  Napi::Value McastIface(const Napi::CallbackInfo& info) {
    loop* l = Live(info);
    if (!l) return info.Env().Undefined();
    std::string iface = info[0].As<Napi::String>().Utf8Value();
    return Check(info, loop_udp_mcast_iface(l, id_, iface.c_str()), "setsockopt(IP_MULTICAST_IF)");
  }

  // membership(join, group, iface)
  Napi::Value Membership(const Napi::CallbackInfo& info) {
    loop* l = Live(info);
    if (!l) return info.Env().Undefined();
    bool join = info[0].ToBoolean();
    std::string group = info[1].As<Napi::String>().Utf8Value();
    std::string iface = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
    int r = loop_udp_membership(l, id_, join, group.c_str(), iface.c_str());
    return Check(info, r, join ? "setsockopt(IP_ADD_MEMBERSHIP)" : "setsockopt(IP_DROP_MEMBERSHIP)");
  }

  // The errno name of the last send the kernel refused, or undefined.
  Napi::Value TakeError(const Napi::CallbackInfo& info) {
    loop* l = id_ >= 0 ? LoopNative(wrap_) : nullptr;
    int e = l ? loop_udp_take_error(l, id_) : 0;
    if (e >= 0) return info.Env().Undefined();
    return Napi::String::New(info.Env(), errno_name(-e));
  }

  // encode(host, port, Int32Array(7)) -> family (4 or 6), or 0 if host is not a
  // numeric address: the words of a send record's address (A_FAMILY..A_IP+3).
  static Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string host = info[0].As<Napi::String>().Utf8Value();
    uint32_t port = info[1].As<Napi::Number>().Uint32Value();
    Napi::Int32Array out = info[2].As<Napi::Int32Array>();
    addr a;
    udp_addr u;
    if (port > 65535 || out.ElementLength() < 7) return Napi::Number::New(env, 0);
    // sock_parse takes no scope (fe80::1%eth0): parse the bare address, then the whole.
    std::string bare = host.substr(0, host.find('%'));
    if (sock_parse(bare.c_str(), static_cast<uint16_t>(port), &a) < 0) return Napi::Number::New(env, 0);
    snprintf(a.host, sizeof(a.host), "%s", host.c_str());
    if (udp_addr_from(a, &u) < 0) return Napi::Number::New(env, 0);
    int32_t* w = out.Data();
    w[0] = u.family;
    w[1] = u.port;
    w[2] = static_cast<int32_t>(u.scope);
    memcpy(w + 3, u.ip, 16);
    return Napi::Number::New(env, u.family);
  }

  Napi::Env env_{nullptr};
  Napi::ObjectReference memory_, loop_ref_;
  Napi::FunctionReference dispatch_;
  napi_async_context async_ctx_ = nullptr;
  int id_ = -1;
  void* wrap_ = nullptr;  // the LoopWrap; loop_ref_ keeps it alive
};

}  // namespace

Napi::Function UdpClass(Napi::Env env) { return UdpWrap::Init(env); }

Napi::Object UdpLayout(Napi::Env env) {
  using namespace udp_layout;
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", UDP_LAYOUT_VERSION);
  o.Set("rxHeader", RX_HEADER);
  o.Set("rxStride", RX_STRIDE);
  o.Set("txHeader", TX_HEADER);
  o.Set("txStride", TX_STRIDE);
  o.Set("statCount", static_cast<int>(US_COUNT));
  return o;
}

}  // namespace rnb
