// vs2::Error codes become VideoScoreError objects on the JS side, with the same code and message.
#pragma once

#include <napi.h>

#include <string>

namespace vs2 {

// new VideoScoreError(code, message) when the JS class is registered, a plain Error with .code otherwise.
Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void ThrowError(Napi::Env env, const std::string& code, const std::string& message);

}  // namespace vs2
