// The Loop class: one native loop (native/core/loop) driven from its JS thread —
// libuv polls the loop's fd (a waiter thread on Windows) and each batch is one
// call into JS; and post(), the cross-thread task entry.
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

namespace rnb {

class LoopWrap : public Napi::ObjectWrap<LoopWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Loop",
                       {
                           InstanceMethod("listen", &LoopWrap::Listen),
                           InstanceMethod("start", &LoopWrap::Start),
                           InstanceMethod("flush", &LoopWrap::Flush),
                           InstanceMethod("refill", &LoopWrap::Refill),
                           InstanceMethod("unlisten", &LoopWrap::Unlisten),
                           InstanceMethod("closeAll", &LoopWrap::CloseAll),
                           InstanceMethod("close", &LoopWrap::Close),
                           InstanceMethod("count", &LoopWrap::Count),
                           InstanceMethod("connAddr", &LoopWrap::ConnAddr),
                           InstanceMethod("connOpt", &LoopWrap::ConnOpt),
                           InstanceMethod("reset", &LoopWrap::Reset),
                           InstanceMethod("adopt", &LoopWrap::Adopt),
                           InstanceMethod("dial", &LoopWrap::Dial),
                           InstanceMethod("closeTasks", &LoopWrap::CloseTasks),
                           InstanceMethod("setTls", &LoopWrap::SetTls),
                           InstanceMethod("tlsInfo", &LoopWrap::TlsInfo),
                           InstanceMethod("tlsError", &LoopWrap::TlsError),
                           InstanceMethod("addCodec", &LoopWrap::AddCodec),
                           InstanceMethod("setAcceptCodec", &LoopWrap::SetAcceptCodec),
                           InstanceMethod("tlsSession", &LoopWrap::TlsSession),
                           InstanceMethod("tlsSniName", &LoopWrap::TlsSniName),
                           InstanceMethod("tlsSniAnswer", &LoopWrap::TlsSniAnswer),
                       });
  }

  // new Loop(options, dispatch, buffers, refs)
  explicit LoopWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LoopWrap>(info) {
    Napi::Env env = info.Env();
    env_ = env;
    Napi::Object o = info[0].As<Napi::Object>();
    auto num = [&](const char* k, uint32_t def) -> uint32_t {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
    };
    cfg_.max_conns = num("maxConnections", cfg_.max_conns);
    cfg_.read_size = num("readBufferCap", cfg_.read_size);
    cfg_.inbound_limit = num("inboundLimit", cfg_.inbound_limit);
    cfg_.write_high = num("writeBufferCap", cfg_.write_high);
    cfg_.outbound_limit = num("outboundLimit", cfg_.outbound_limit);
    cfg_.staging_size = num("stagingSize", cfg_.staging_size);
    cfg_.events_cap = num("batchEvents", cfg_.events_cap);
    cfg_.conn.nodelay = o.Get("tcpNoDelay").ToBoolean();
    cfg_.half_open = o.Get("allowHalfOpen").ToBoolean();
    cfg_.idle_timeout_ms = num("idleTimeout", 0);
    cfg_.timeout_events = o.Get("timeoutEvents").ToBoolean();
    cfg_.conn.keepalive_secs = static_cast<int>(num("tcpKeepAlive", 0));
    cfg_.conn.sndbuf = static_cast<int>(num("socketSendBuffer", 0));
    cfg_.conn.rcvbuf = static_cast<int>(num("socketRecvBuffer", 0));
    if (cfg_.inbound_limit < cfg_.read_size) cfg_.inbound_limit = cfg_.read_size;
    // backend: 'io_uring' asks for it; backendFallback: run on epoll if refused.
    Napi::Value be = o.Get("backend");
    if (be.IsString() && be.As<Napi::String>().Utf8Value() == "io_uring") cfg_.backend = BACKEND_IO_URING;
    cfg_.backend_fallback = o.Get("backendFallback").ToBoolean();

    dispatch_ = Napi::Persistent(info[1].As<Napi::Function>());
    buffers_ = Napi::Persistent(info[2].As<Napi::Object>());
    refs_ = Napi::Persistent(info[3].As<Napi::Object>());

    shared_sizes sz = loop_shared_sizes(cfg_);
    loop_shared shm;
    Napi::Object mem = Napi::Object::New(env);
    auto region = [&](const char* name, size_t bytes) -> void* {
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
      memset(ab.Data(), 0, bytes);
      mem.Set(name, ab);
      return ab.Data();
    };
    shm.events = static_cast<int32_t*>(region("events", sz.events));
    shm.conns = static_cast<int32_t*>(region("conns", sz.conns));
    shm.ops = static_cast<int32_t*>(region("ops", sz.ops));
    shm.staging = static_cast<uint8_t*>(region("staging", sz.staging));
    shm.stats = static_cast<double*>(region("stats", sz.stats));
    shm_ = shm;
    memory_ = Napi::Persistent(mem);

    loop_host host;
    host.ud = this;
    host.alloc.ud = this;
    host.alloc.alloc = &LoopWrap::AllocBuf;
    host.alloc.release = &LoopWrap::ReleaseBuf;
    host.on_batch = &LoopWrap::OnBatch;
    host.resolve_ref = &LoopWrap::ResolveRef;
    host.on_ops_done = &LoopWrap::OnOpsDone;
    const char* why = nullptr;
    int err = loop_create(cfg_, host, shm, &loop_, &why);
    if (err < 0 && cfg_.backend == BACKEND_IO_URING && why) {
      Napi::Error e = Napi::Error::New(env, std::string("ringnet: backend 'io_uring' is unavailable: ") + why);
      e.Set("code", "ERR_RINGNET_BACKEND_UNAVAILABLE");
      e.Set("errno", Napi::Number::New(env, err));
      e.Set("reason", errno_name(-err));
      e.ThrowAsJavaScriptException();
      return;
    }
    if (err < 0) {
      make_error(env, err, "loop_create").ThrowAsJavaScriptException();
      return;
    }
    napi_async_init(env, Value(), Napi::String::New(env, "ringnet.Loop"), &async_ctx_);
    id_ = registry_add(loop_);
    Value().Set("memory", mem);
    Value().Set("id", id_);
    Value().Set("arenaId", loop_arena_id(loop_));
    Value().Set("backend", loop_backend(loop_));
    if (const char* fb = loop_backend_fallback(loop_)) Value().Set("backendFallback", fb);
    napi_add_env_cleanup_hook(env, &LoopWrap::EnvCleanup, this);
  }

  ~LoopWrap() override { Destroy(); }
  // The native loop, or nullptr once closed (binding_udp.cc).
  loop* native() const { return close_requested_ ? nullptr : loop_; }

 private:
  // ---- host callbacks from the core (loop thread, inside a handle scope) ----
  static void* AllocBuf(void* ud, size_t size, int32_t* id) {
    auto* self = static_cast<LoopWrap*>(ud);
    if (self->tearing_down_) return nullptr;
    Napi::Env env = self->env_;
    napi_value buf;
    void* data = aligned_arraybuffer(env, size, &buf);
    if (!data) return nullptr;
    int32_t i;
    if (!self->free_ids_.empty()) {
      i = self->free_ids_.back();
      self->free_ids_.pop_back();
    } else {
      i = self->next_buf_id_++;
    }
    napi_set_element(env, self->buffers_.Value(), static_cast<uint32_t>(i), buf);
    *id = i;
    return data;
  }

  static void ReleaseBuf(void* ud, int32_t id) {
    auto* self = static_cast<LoopWrap*>(ud);
    if (self->tearing_down_) return;
    Napi::Env env = self->env_;
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_set_element(env, self->buffers_.Value(), static_cast<uint32_t>(id), undef);
    self->free_ids_.push_back(id);
  }

  static void OnBatch(void* ud) {
    auto* self = static_cast<LoopWrap*>(ud);
    call_dispatch(self->env_, self->async_ctx_, self->dispatch_.Value(), 0, nullptr);
  }

  static int ResolveRef(void* ud, int32_t index, const uint8_t** p, size_t* n) {
    auto* self = static_cast<LoopWrap*>(ud);
    napi_env env = self->env_;
    napi_value v;
    if (napi_get_element(env, self->refs_.Value(), static_cast<uint32_t>(index), &v) != napi_ok) return -EINVAL;
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &off) != napi_ok) return -EINVAL;
    *p = static_cast<const uint8_t*>(data);
    *n = length;
    return 0;
  }

  static void OnOpsDone(void* ud) {
    auto* self = static_cast<LoopWrap*>(ud);
    if (self->shm_.ops[layout::OP_REFS] == 0) return;  // no references were recorded
    self->shm_.ops[layout::OP_REFS] = 0;
    napi_env env = self->env_;
    napi_value zero;
    napi_create_uint32(env, 0, &zero);
    napi_set_named_property(env, self->refs_.Value(), "length", zero);
  }

  // ---- libuv integration ----
#ifndef _WIN32
  static void OnPoll(uv_poll_t* h, int status, int events) {
    (void)status;
    (void)events;
    RunOnce(h->data);
  }
#endif

  // One loop iteration on this thread: uv_poll's callback, or the Windows waiter's.
  static void RunOnce(void* ud) {
    auto* self = static_cast<LoopWrap*>(ud);
    napi_handle_scope scope;
    napi_open_handle_scope(self->env_, &scope);
    self->depth_++;
    loop_run_once(self->loop_, 0);
    self->depth_--;
    if (self->close_requested_ && self->depth_ == 0) {
      self->Destroy();
    } else {
      self->ArmTimer();
    }
    napi_close_handle_scope(self->env_, scope);
  }

  // The loop's deadlines wake it through one uv_timer (never one per connection),
  // set to the wheel's next due time after every iteration or apply. It only
  // re-arms when that time moves.
#ifndef _WIN32
  static void OnTimer(uv_timer_t* h) {
    auto* self = static_cast<LoopWrap*>(h->data);
    self->timer_due_ = 0;
    RunOnce(self);
  }
#endif

  void ArmTimer() {
#ifdef _WIN32
    // No uv_timer (the win32 build imports Node-API only): the waiter thread parks
    // with the wheel's next due time and runs an iteration when it passes.
    if (loop_ && waiter_) waiter_->set_timeout(loop_next_timeout(loop_));
    return;
#else
    if (!loop_ || !timer_) return;
    int64_t t = loop_next_timeout(loop_);
    if (t < 0) {
      if (timer_due_) uv_timer_stop(timer_);
      timer_due_ = 0;
      return;
    }
    uint64_t due = uv_now(timer_->loop) + static_cast<uint64_t>(t);
    if (due == timer_due_) return;
    timer_due_ = due;
    uv_timer_start(timer_, &LoopWrap::OnTimer, static_cast<uint64_t>(t), 0);
#endif
  }

  static void EnvCleanup(void* arg) {
    auto* self = static_cast<LoopWrap*>(arg);
    self->tearing_down_ = true;
    self->Destroy();
  }

  void Destroy() {
    if (!loop_) return;
    registry_remove(id_);
#ifdef _WIN32
    if (waiter_) waiter_->stop();  // joins the waiter thread: it parks in the loop
#else
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (timer_) {
      uv_timer_stop(timer_);
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      timer_ = nullptr;
    }
#endif
    loop_destroy(loop_);
    loop_ = nullptr;
    if (!tearing_down_) {
      napi_async_destroy(env_, async_ctx_);
      napi_remove_env_cleanup_hook(env_, &LoopWrap::EnvCleanup, this);
    }
  }

  bool Check(const Napi::CallbackInfo& info) {
    if (loop_ && !close_requested_) return true;
    Napi::Error e = Napi::Error::New(info.Env(), "ringnet: the engine's loop is closed");
    e.Set("code", "ERR_RINGNET_CLOSED");
    e.ThrowAsJavaScriptException();
    return false;
  }

  // ---- JS methods ----
  // listen(host, port, { reuseAddr, reusePort, backlog }) -> { address, port, family }
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Check(info)) return env.Undefined();
    addr a, bound;
    listen_opts lo;
    std::string host;
    uint32_t port;
    if (!parse_listen_args(info, &a, &lo, &host, &port)) return env.Undefined();
    const char* failed = "listen";
    int r = loop_listen(loop_, a, lo, &bound, &failed, info.Length() > 3 ? tls_ctx_of(info[3]) : nullptr);
    if (r < 0) return throw_listen_error(env, r, failed, host, port, a.family);
    Napi::Object out = addr_object(env, bound);
    out.Set("id", r);
    return out;
  }

  // setTls(listenerId, context | null): -1 names adopted connections' context.
  Napi::Value SetTls(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Check(info)) return env.Undefined();
    int r = loop_set_tls(loop_, info[0].As<Napi::Number>().Int32Value(), tls_ctx_of(info[1]));
    return Napi::Number::New(env, r);
  }

  // TLS queries and answers of a connection: binding_loop_tls.cc.
  Napi::Value TlsInfo(const Napi::CallbackInfo& info) { return js_tls_info(info, loop_); }
  Napi::Value TlsSession(const Napi::CallbackInfo& info) { return js_tls_session(info, loop_); }
  Napi::Value TlsSniName(const Napi::CallbackInfo& info) { return js_tls_sni_name(info, loop_); }
  Napi::Value TlsSniAnswer(const Napi::CallbackInfo& info) { return js_tls_sni_answer(info, loop_); }
  Napi::Value TlsError(const Napi::CallbackInfo& info) { return js_tls_error(info, loop_); }

  // addCodec(spec) -> id; setAcceptCodec(id): framing codecs (binding_codec.cc).
  Napi::Value AddCodec(const Napi::CallbackInfo& info) {
    return Check(info) ? add_codec(info, loop_) : info.Env().Undefined();
  }
  Napi::Value SetAcceptCodec(const Napi::CallbackInfo& info) {
    if (!Check(info)) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), loop_set_accept_codec(loop_, info[0].As<Napi::Number>().Int32Value()));
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
#ifdef _WIN32
    // No fd for libuv to watch: a waiter thread (host_waiter.h).
    if (!Check(info) || waiter_) return env.Undefined();
    if (ringnet_host::waiter::start(env, loop_, &LoopWrap::RunOnce, this, &waiter_) != napi_ok) {
      make_error(env, -ENOMEM, "napi_create_threadsafe_function").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ArmTimer();
    return env.Undefined();
#else
    if (!Check(info) || poll_) return env.Undefined();
    uv_loop_t* uvl = nullptr;
    napi_get_uv_event_loop(env, &uvl);
    poll_ = new uv_poll_t;
    int err = uv_poll_init(uvl, poll_, loop_fd(loop_));
    if (err == 0) {
      poll_->data = this;
      err = uv_poll_start(poll_, UV_READABLE, &LoopWrap::OnPoll);
    }
    if (err < 0) {
      delete poll_;
      poll_ = nullptr;
      make_error(env, -err, "uv_poll_start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    timer_ = new uv_timer_t;
    uv_timer_init(uvl, timer_);
    timer_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(timer_));  // the poll handle keeps the loop alive
    ArmTimer();
    return env.Undefined();
#endif
  }

  // Apply recorded ops now; events they cause are left for JS to dispatch.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    if (loop_) loop_apply_ops(loop_);
    ArmTimer();
    return info.Env().Undefined();
  }

  // Events that overflowed the region while JS drove the loop (stop, flush).
  Napi::Value Refill(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), loop_ ? loop_refill_events(loop_) : 0);
  }

  Napi::Value Unlisten(const Napi::CallbackInfo& info) {
    if (loop_) loop_unlisten(loop_);
    return info.Env().Undefined();
  }

  Napi::Value CloseAll(const Napi::CallbackInfo& info) {
    if (loop_) loop_close_all(loop_, info[0].ToBoolean());
    ArmTimer();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!loop_) return info.Env().Undefined();
    if (depth_ > 0) {
      close_requested_ = true;  // inside this loop's dispatch: finish it first
    } else {
      Destroy();
    }
    return info.Env().Undefined();
  }

  Napi::Value Count(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), loop_ ? loop_count(loop_) : 0);
  }

  // connAddr(slot, gen, peer) -> { address, port, family } | null
  Napi::Value ConnAddr(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!loop_) return env.Null();
    addr a;
    int r = loop_conn_addr(loop_, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
                           info[2].ToBoolean(), &a);
    if (r < 0) return env.Null();
    return addr_object(env, a);
  }

  // connOpt(slot, gen, which, a, b): which is a layout::COPT_* code
  Napi::Value ConnOpt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Check(info)) return env.Undefined();
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value(), gen = info[1].As<Napi::Number>().Uint32Value();
    int which = info[2].As<Napi::Number>().Int32Value();
    int a = info[3].As<Napi::Number>().Int32Value();
    int b = info.Length() > 4 ? info[4].As<Napi::Number>().Int32Value() : 0;
    int r = -EINVAL;
    const char* what = "setsockopt";
    switch (which) {
      case layout::COPT_NODELAY: r = loop_conn_nodelay(loop_, slot, gen, a != 0); what = "setsockopt(TCP_NODELAY)"; break;
      case layout::COPT_KEEPALIVE: r = loop_conn_keepalive(loop_, slot, gen, a != 0, b); what = "setsockopt(SO_KEEPALIVE)"; break;
      case layout::COPT_SNDBUF: r = loop_conn_bufsize(loop_, slot, gen, true, a); what = "setsockopt(SO_SNDBUF)"; break;
      case layout::COPT_RCVBUF: r = loop_conn_bufsize(loop_, slot, gen, false, a); what = "setsockopt(SO_RCVBUF)"; break;
    }
    if (r < 0) make_error(env, r, what).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    if (loop_) loop_conn_reset(loop_, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  // dial(host, port, timeoutMs, tag, unix, codec, tls?): host numeric; codec an
  // addCodec id (0: none). Throws when the connect fails at once; later an EV_OPEN
  // (arg = tag) or EV_DIAL_FAIL reports the outcome. tls: { context (a client
  // context), servername (SNI), host (the identity checked), session (DER) }:
  // EV_OPEN after the handshake.
  Napi::Value Dial(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Check(info)) return env.Undefined();
    std::string host = info[0].As<Napi::String>().Utf8Value();
    uint32_t port = info[1].As<Napi::Number>().Uint32Value();
    uint32_t timeout = info[2].As<Napi::Number>().Uint32Value();
    int32_t tag = info[3].As<Napi::Number>().Int32Value();
    bool un = info.Length() > 4 && info[4].ToBoolean();
    int codec = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().Int32Value() : 0;
    addr a;
    if (un && host[0] != '@' && sock_parse_unix(host.c_str(), &a) == -EAFNOSUPPORT) {
      // No Unix domain sockets on this OS (Windows: sys/sock_win.cc), not a bad path.
      make_error(env, -EAFNOSUPPORT, "dial unix://" + host + ": Unix domain sockets are not available on this platform").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (un ? sock_parse_unix(host.c_str(), &a) < 0 : (port > 65535 || sock_parse(host.c_str(), static_cast<uint16_t>(port), &a) < 0)) {
      Napi::Error e = Napi::Error::New(env, "ringnet: dial: invalid address '" + host + "' port " + std::to_string(port));
      e.Set("code", "ERR_RINGNET_INVALID_ADDR");
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    tls_sess* ts = nullptr;
    if (info.Length() > 6 && info[6].IsObject() && !dial_tls_session(env, info[6].As<Napi::Object>(), &ts)) return env.Undefined();
    int r = loop_dial(loop_, a, timeout, tag, ts, codec);
    if (r < 0) {
      std::string where = un ? "unix://" + host : a.family == 6 ? "tcp://[" + host + "]:" + std::to_string(port) : "tcp://" + host + ":" + std::to_string(port);
      Napi::Error e = make_error(env, r, "connect " + where);
      e.Set("syscall", "connect");
      e.Set("address", host);
      e.Set("port", Napi::Number::New(env, port));
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ArmTimer();
    return env.Undefined();
  }

  // The loop is failing: refuse posts from now on, so the main reactor and other
  // threads pass it by at once (registry_post fails; the acceptor tries the next).
  Napi::Value CloseTasks(const Napi::CallbackInfo& info) {
    if (loop_) loop_close_tasks(loop_);
    return info.Env().Undefined();
  }

  Napi::Value Adopt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Check(info)) return env.Undefined();
    int r = loop_adopt(loop_, info[0].As<Napi::Number>().Int32Value());
    ArmTimer();
    return Napi::Number::New(env, r);
  }

  napi_env env_ = nullptr;
  loop_config cfg_;
  loop_shared shm_;
  loop* loop_ = nullptr;
  uint32_t id_ = 0;
#ifdef _WIN32
  ringnet_host::waiter* waiter_ = nullptr;
#else
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uint64_t timer_due_ = 0;  // uv_now() ms the timer is set for; 0 = stopped
#endif
  napi_async_context async_ctx_ = nullptr;
  Napi::FunctionReference dispatch_;
  Napi::ObjectReference buffers_, refs_, memory_;
  std::vector<int32_t> free_ids_;
  int32_t next_buf_id_ = 0;
  int depth_ = 0;
  bool close_requested_ = false;
  bool tearing_down_ = false;
};

// post(loopId, kind, slot, gen, data?, tag?) -> 0 | -errno. Any thread.
Napi::Value Post(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  task t;
  t.kind = static_cast<task_kind>(info[1].As<Napi::Number>().Uint32Value());
  t.slot = info[2].As<Napi::Number>().Uint32Value();
  t.gen = info[3].As<Napi::Number>().Uint32Value();
  if (t.kind == TASK_WRITE) {
    // The view's own data pointer: a view of a SharedArrayBuffer (what a pool
    // worker gets for a small argument) has no ArrayBuffer to take Data() of —
    // that read a garbage pointer and crashed (found by the issue 8 hammer).
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (!info[4].IsTypedArray() ||
        napi_get_typedarray_info(env, info[4], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
      return Napi::Number::New(env, -EINVAL);
    }
    const uint8_t* p = static_cast<const uint8_t*>(data);
    if (length > 0) t.data.assign(p, p + length);
    if (info.Length() > 5 && info[5].IsNumber()) t.tag = info[5].As<Napi::Number>().Uint32Value();
  }
  if (t.kind == TASK_ADOPT) return Napi::Number::New(env, -EINVAL);  // fds are handed over natively only
  return Napi::Number::New(env, registry_post(id, std::move(t)));
}

Napi::Function LoopClass(Napi::Env env) { return LoopWrap::Init(env); }

void* LoopWrapOf(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  return Napi::ObjectWrap<LoopWrap>::Unwrap(v.As<Napi::Object>());
}

loop* LoopNative(void* wrap) { return wrap ? static_cast<LoopWrap*>(wrap)->native() : nullptr; }

}  // namespace rnb
