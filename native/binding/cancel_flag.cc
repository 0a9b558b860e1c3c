#include "binding/cancel_flag.h"

#include "binding/instance_data.h"

namespace vs2 {

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

}  // namespace vs2
