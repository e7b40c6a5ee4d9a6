// Framing codecs (issue 12): a codec spec from JS (lib/codec.ts has validated and
// normalised it; this checks again, as everything from JS is checked) into the
// core's codec_spec, and the Loop methods that register one.
#include <cstring>
#include <string>

#include "binding.h"
#include "codec/codec.h"

namespace rnb {

namespace {

Napi::Value invalid(Napi::Env env, const std::string& why) {
  Napi::Error e = Napi::Error::New(env, "ringnet: option 'codec': " + why);
  e.Set("code", "ERR_RINGNET_INVALID_OPTION");
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

uint32_t u32(const Napi::Object& o, const char* k, uint32_t def) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}

}  // namespace

bool codec_spec_of(Napi::Env env, Napi::Value v, codec_spec* s) {
  if (!v.IsObject()) return invalid(env, "must be an object"), false;
  Napi::Object o = v.As<Napi::Object>();
  std::string type = o.Get("type").IsString() ? o.Get("type").As<Napi::String>().Utf8Value() : "";
  *s = codec_spec();
  if (type == "length-field") {
    s->kind = CODEC_LENGTH_FIELD;
    s->lf.length_offset = u32(o, "lengthFieldOffset", 0);
    s->lf.length_size = static_cast<uint8_t>(u32(o, "lengthFieldLength", 4));
    Napi::Value adj = o.Get("lengthAdjustment");
    s->lf.adjustment = adj.IsNumber() ? adj.As<Napi::Number>().Int64Value() : 0;
    s->lf.strip = u32(o, "initialBytesToStrip", 0);
    Napi::Value bo = o.Get("byteOrder");
    s->lf.big_endian = !(bo.IsString() && bo.As<Napi::String>().Utf8Value() == "little");
    s->lf.max_frame = u32(o, "maxFrameLength", s->lf.max_frame);
  } else if (type == "delimiter") {
    s->kind = CODEC_DELIMITER;
    Napi::Value d = o.Get("delimiters");
    if (!d.IsArray()) return invalid(env, "delimiters must be an array"), false;
    Napi::Array a = d.As<Napi::Array>();
    if (a.Length() == 0 || a.Length() > kMaxDelimiters) return invalid(env, "1 to 4 delimiters"), false;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
        return invalid(env, "each delimiter must be bytes"), false;
      Napi::Uint8Array b = e.As<Napi::Uint8Array>();
      if (b.ElementLength() == 0 || b.ElementLength() > kMaxDelimiterLen) return invalid(env, "each delimiter is 1 to 16 bytes"), false;
      s->delim.len[i] = static_cast<uint8_t>(b.ElementLength());
      memcpy(s->delim.bytes[i], b.Data(), b.ElementLength());
    }
    s->delim.count = static_cast<uint8_t>(a.Length());
    s->delim.strip = o.Get("stripDelimiter").ToBoolean();
    s->delim.max_frame = u32(o, "maxFrameLength", s->delim.max_frame);
  } else if (type == "fixed") {
    s->kind = CODEC_FIXED;
    s->fixed.size = u32(o, "frameLength", 0);
  } else if (type == "line") {
    s->kind = CODEC_LINE;
    s->line.strip = o.Get("stripDelimiter").ToBoolean();
    s->line.max_frame = u32(o, "maxFrameLength", s->line.max_frame);
  } else {
    return invalid(env, "unknown type '" + type + "'"), false;
  }
  if (codec_validate(*s) < 0) return invalid(env, "the " + type + " spec is out of range"), false;
  return true;
}

// loop.addCodec(spec) -> id (>= 1); sets loop.framesId.
Napi::Value add_codec(const Napi::CallbackInfo& info, loop* l) {
  Napi::Env env = info.Env();
  codec_spec s;
  if (!codec_spec_of(env, info[0], &s)) return env.Undefined();
  int r = loop_add_codec(l, s);
  if (r == -EINVAL) return invalid(env, "the spec is out of range (maxFrameLength at most 2^30)");
  if (r < 0) {
    make_error(env, r, "loop_add_codec").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  info.This().As<Napi::Object>().Set("framesId", loop_frames_id(l));
  return Napi::Number::New(env, r);
}

}  // namespace rnb
