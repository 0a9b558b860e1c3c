#include "binding/read_options.h"

#include "binding/js_error.h"

namespace vs2 {
namespace {

[[noreturn]] void Missing(Napi::Env env, const char* key, const char* expected) {
  ThrowError(env, "ERR_INVALID_OPTION",
             std::string("videoscore2.node expected options.") + key + " to be " + expected +
                 " (the TypeScript layer sends every key; call the addon through the library)");
}

Napi::Value Get(const Napi::Object& o, const char* key, bool ok(const Napi::Value&), const char* expected) {
  Napi::Value v = o.Get(key);
  if (!ok(v)) Missing(o.Env(), key, expected);
  return v;
}

bool IsNumber(const Napi::Value& v) { return v.IsNumber(); }
bool IsBool(const Napi::Value& v) { return v.IsBoolean(); }
bool IsString(const Napi::Value& v) { return v.IsString(); }
bool IsArray(const Napi::Value& v) { return v.IsArray(); }

}  // namespace

Napi::Object ReadObject(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) ThrowError(v.Env(), "ERR_INVALID_OPTION", std::string("videoscore2.node expected ") + what + " to be an object");
  return v.As<Napi::Object>();
}
int32_t ReadInt(const Napi::Object& o, const char* key) {
  return Get(o, key, IsNumber, "a number").As<Napi::Number>().Int32Value();
}
int64_t ReadInt64(const Napi::Object& o, const char* key) {
  return Get(o, key, IsNumber, "a number").As<Napi::Number>().Int64Value();
}
double ReadDouble(const Napi::Object& o, const char* key) {
  return Get(o, key, IsNumber, "a number").As<Napi::Number>().DoubleValue();
}
bool ReadBool(const Napi::Object& o, const char* key) {
  return Get(o, key, IsBool, "a boolean").As<Napi::Boolean>().Value();
}
std::string ReadString(const Napi::Object& o, const char* key) {
  return Get(o, key, IsString, "a string").As<Napi::String>().Utf8Value();
}
std::vector<std::string> ReadStrings(const Napi::Object& o, const char* key) {
  Napi::Array a = Get(o, key, IsArray, "an array of strings").As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) Missing(o.Env(), key, "an array of strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}
std::vector<int64_t> ReadIndices(const Napi::Object& o, const char* key) {
  Napi::Array a = Get(o, key, IsArray, "an array of frame indices").As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) Missing(o.Env(), key, "an array of frame indices");
    out[i] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}

}  // namespace vs2
