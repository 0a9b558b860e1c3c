// Readers of the one options object each native call takes. The TS layer (src/addon/interface.ts)
// applies every default and sends every key, so a missing or mistyped key is a bug between the two
// layers: it throws ERR_INVALID_OPTION naming the key, and no reader has a fallback of its own.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vs2 {

Napi::Object ReadObject(const Napi::Value& v, const char* what);
int32_t ReadInt(const Napi::Object& o, const char* key);
int64_t ReadInt64(const Napi::Object& o, const char* key);
double ReadDouble(const Napi::Object& o, const char* key);
bool ReadBool(const Napi::Object& o, const char* key);
std::string ReadString(const Napi::Object& o, const char* key);
std::vector<std::string> ReadStrings(const Napi::Object& o, const char* key);
std::vector<int64_t> ReadIndices(const Napi::Object& o, const char* key);

}  // namespace vs2
