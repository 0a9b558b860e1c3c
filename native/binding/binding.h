// Shared pieces of the N-API layer: per-environment data, error conversion, and a promise-returning
// AsyncWorker whose Run() is plain C++ that may throw vs2::Error.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/error.h"

namespace vs2 {

// One per Node environment (main thread, each worker thread): nothing here is shared across them.
struct InstanceData {
  // Raised by the environment's cleanup hook (process.exit, worker.terminate): running jobs see it
  // through their CancelToken and stop; the hook waits for them so that nothing outlives the env.
  int32_t exiting = 0;
  std::atomic<int> running{0};
  Napi::FunctionReference errorClass;  // src/addon/errors.ts VideoScoreError, handed over by setErrorClass()
  Napi::FunctionReference videoClass;
  Napi::FunctionReference feedClass;
  Napi::FunctionReference modelClass;
};

// new VideoScoreError(code, message) when the JS class is registered, a plain Error with .code otherwise.
Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void ThrowError(Napi::Env env, const std::string& code, const std::string& message);

// The cancel flag handed in by JS: an Int32Array over a SharedArrayBuffer (see src/addon/cancel.ts).
class CancelFlag {
 public:
  CancelFlag() = default;
  explicit CancelFlag(const Napi::Value& v);
  CancelToken token() const { return CancelToken(ptr_, exiting_); }

 private:
  Napi::ObjectReference ref_;
  const int32_t* ptr_ = nullptr;
  const int32_t* exiting_ = nullptr;
};

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        data_(env.GetInstanceData<InstanceData>()) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;
  // Runs on the JS thread before the promise settles, whatever the outcome.
  virtual void Finish(Napi::Env) {}

  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& e) final;

 private:
  Napi::Promise::Deferred deferred_;
  InstanceData* data_;
  std::string code_ = "ERR_INTERNAL";
};

class FrameFeed;
// The feed behind a NativeFrameFeed object (video.stream()); null for any other value.
std::shared_ptr<FrameFeed> FeedFromJs(Napi::Env env, const Napi::Value& v);

Napi::Object InitVideo(Napi::Env env, Napi::Object exports);
Napi::Object InitScorer(Napi::Env env, Napi::Object exports);

int32_t GetInt(const Napi::Object& o, const char* key, int32_t fallback);
double GetDouble(const Napi::Object& o, const char* key, double fallback);
bool GetBool(const Napi::Object& o, const char* key, bool fallback);
std::string GetString(const Napi::Object& o, const char* key, const std::string& fallback = "");

}  // namespace vs2
