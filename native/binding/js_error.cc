#include "binding/js_error.h"

#include "binding/instance_data.h"

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

}  // namespace vs2
