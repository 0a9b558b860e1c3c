#include "binding/binding.h"

namespace vs2 {

Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  auto* data = env.GetInstanceData<InstanceData>();
  if (data && !data->errorClass.IsEmpty())
    return data->errorClass.New({Napi::String::New(env, code), Napi::String::New(env, message)});
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err.Value();
}

void ThrowError(Napi::Env env, const std::string& code, const std::string& message) {
  throw Napi::Error(env, MakeError(env, code, message));
}

CancelFlag::CancelFlag(const Napi::Value& v) {
  if (auto* data = v.Env().GetInstanceData<InstanceData>()) exiting_ = &data->exiting;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto arr = v.As<Napi::Int32Array>();
    if (arr.ElementLength() >= 1) {
      ref_ = Napi::Persistent(v.As<Napi::Object>());
      ptr_ = arr.Data();
    }
  }
}

void PromiseWorker::Execute() {
  struct Running {
    InstanceData* d;
    explicit Running(InstanceData* d) : d(d) { d->running++; }
    ~Running() { d->running--; }
  } running(data_);
  try {
    Run();
  } catch (const Error& e) {
    code_ = e.code();
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    code_ = "ERR_INTERNAL";
    SetError("Out of memory");
  } catch (const std::exception& e) {
    code_ = "ERR_INTERNAL";
    SetError(e.what());
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Finish(env);
  try {
    deferred_.Resolve(Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void PromiseWorker::OnError(const Napi::Error& e) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Finish(env);
  deferred_.Reject(MakeError(env, code_, e.Message()));
}

int32_t GetInt(const Napi::Object& o, const char* key, int32_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : fallback;
}
double GetDouble(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}
bool GetBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}
std::string GetString(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

}  // namespace vs2
