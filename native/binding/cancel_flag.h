// The cancel flag handed in by JS (src/addon/cancel.ts): an Int32Array over a SharedArrayBuffer,
// held for as long as a job may read it.
#pragma once

#include <napi.h>

#include <cstdint>

#include "common/error.h"

namespace vs2 {

class CancelFlag {
 public:
  CancelFlag() = default;
  // Anything but an Int32Array gives a flag that is never raised (except by the environment's exit).
  explicit CancelFlag(const Napi::Value& v);
  CancelToken token() const { return CancelToken(ptr_, exiting_); }

 private:
  Napi::ObjectReference ref_;
  const int32_t* ptr_ = nullptr;
  const int32_t* exiting_ = nullptr;
};

}  // namespace vs2
